"""The built-in vendors pass the conformance kit (``ait_connectors.testing``)."""

from kit_declarations import GITHUB, SANDBOX, SPOTIFY
from kit_slack import SLACK

from ait_connectors.testing import conformance_suite

TestGitHubConformance = conformance_suite(GITHUB)
TestSpotifyConformance = conformance_suite(SPOTIFY)
TestSandboxConformance = conformance_suite(SANDBOX)
TestSlackConformance = conformance_suite(SLACK)
