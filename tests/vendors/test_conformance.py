"""The built-in vendors pass the conformance kit (``ait_connectors.testing``)."""

from kit_declarations import GITHUB, SANDBOX, SPOTIFY
from kit_google import GOOGLE, PENDING
from kit_linear import LINEAR
from kit_notion import NOTION
from kit_salesforce import SALESFORCE
from kit_slack import SLACK
from kit_stripe import STRIPE
from kit_x import X

from ait_connectors.testing import conformance_suite

TestGitHubConformance = conformance_suite(GITHUB)
TestSpotifyConformance = conformance_suite(SPOTIFY)
TestSandboxConformance = conformance_suite(SANDBOX)
TestNotionConformance = conformance_suite(NOTION)
TestLinearConformance = conformance_suite(LINEAR)
TestXConformance = conformance_suite(X)
TestSlackConformance = conformance_suite(SLACK)
TestGoogleConformance = conformance_suite(GOOGLE, pending=PENDING)
TestSalesforceConformance = conformance_suite(SALESFORCE)
TestStripeConformance = conformance_suite(STRIPE)
