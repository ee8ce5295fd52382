"""The GraphQL documents the Linear data source sends, one per entity type.

Each reads one top-level connection (``issues``, ``comments``, ``projects``, ``teams``,
``users``) a page at a time: ``first``/``after`` with ``pageInfo { hasNextPage endCursor }``
(Relay). Every nested connection sets its own ``first``: Linear defaults a connection to 50
nodes and counts each node against the query's complexity. The selections are exactly the
fields the entity models keep.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMMENTS", "ISSUES", "LABELS_FIRST", "PROJECTS", "TEAMS", "USERS", "Query"]

#: Labels read per issue and teams per project; more are reported as a warning, not dropped
#: silently (an issue with more than 50 labels is not a thing Linear users make).
LABELS_FIRST = 50
TEAMS_FIRST = 50

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"


@dataclass(frozen=True)
class Query:
    """One paginated read: the root ``field`` and the document that reads it."""

    field: str
    document: str
    #: Whether it takes a ``$filter`` on ``updatedAt`` (an incremental read).
    incremental: bool = True


ISSUES = Query(
    "issues",
    f"""query Issues($first: Int!, $after: String, $filter: IssueFilter) {{
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt,
         includeArchived: true) {{
    nodes {{
      id identifier number title description priority priorityLabel estimate url branchName
      state {{ id name type }}
      assignee {{ id name }}
      creator {{ id name }}
      team {{ id key name }}
      project {{ id name }}
      cycle {{ id number name }}
      parent {{ id identifier }}
      labels(first: {LABELS_FIRST}) {{ nodes {{ id name }} pageInfo {{ hasNextPage }} }}
      createdAt updatedAt startedAt completedAt canceledAt archivedAt dueDate trashed
    }}
    {_PAGE_INFO}
  }}
}}""",
)

COMMENTS = Query(
    "comments",
    f"""query Comments($first: Int!, $after: String, $filter: CommentFilter) {{
  comments(first: $first, after: $after, filter: $filter, orderBy: updatedAt,
           includeArchived: true) {{
    nodes {{
      id body url
      issue {{ id identifier }}
      user {{ id name }}
      parent {{ id }}
      createdAt updatedAt editedAt archivedAt resolvedAt
    }}
    {_PAGE_INFO}
  }}
}}""",
)

PROJECTS = Query(
    "projects",
    f"""query Projects($first: Int!, $after: String, $filter: ProjectFilter) {{
  projects(first: $first, after: $after, filter: $filter, orderBy: updatedAt,
           includeArchived: true) {{
    nodes {{
      id name description slugId url progress priority
      status {{ id name type }}
      lead {{ id name }}
      teams(first: {TEAMS_FIRST}) {{ nodes {{ id }} pageInfo {{ hasNextPage }} }}
      startDate targetDate createdAt updatedAt startedAt completedAt canceledAt archivedAt
    }}
    {_PAGE_INFO}
  }}
}}""",
)

TEAMS = Query(
    "teams",
    f"""query Teams($first: Int!, $after: String) {{
  teams(first: $first, after: $after, includeArchived: true) {{
    nodes {{
      id key name description visibility icon color timezone cyclesEnabled
      createdAt updatedAt archivedAt
    }}
    {_PAGE_INFO}
  }}
}}""",
    incremental=False,
)

USERS = Query(
    "users",
    f"""query Users($first: Int!, $after: String) {{
  users(first: $first, after: $after, includeDisabled: true) {{
    nodes {{
      id name displayName email active admin guest avatarUrl timezone url isMe
      createdAt updatedAt archivedAt
    }}
    {_PAGE_INFO}
  }}
}}""",
    incremental=False,
)
