"""Linear entity models, validated straight from the GraphQL API's nodes.

Nested objects the API returns for one value are flattened (``state { id name type }`` →
``state_id``, ``state_name``, ``state_type``: an ``AliasPath``); nested connections become
lists (``labels { nodes { id name } }`` → ``label_ids``, ``label_names``). Every optional
relation (assignee, project, cycle, parent, lead, the comment's issue and user) may be
``null``, and every field Linear's schema marks nullable may be ``null`` or absent. Each
validator also accepts the stored, flattened form, so a record read back validates to the same
entity.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasPath, BeforeValidator, Field

from ait_connectors.vendor import Entity

__all__ = ["LinearComment", "LinearIssue", "LinearProject", "LinearTeam", "LinearUser"]


def _at(*path: str, default: Any = None) -> Any:
    """A field read from a nested path of the node (``default=...``: required)."""
    return Field(default, validation_alias=AliasPath(*path))


def _nodes(key: str) -> BeforeValidator:
    """``{nodes: [{key: …}]}`` (or a list of such objects) → ``[…]``; a list of strings (the
    stored form) is kept."""

    def pick(value: Any) -> list[str]:
        if isinstance(value, dict):
            value = value.get("nodes")
        picked = []
        for node in value or []:
            if isinstance(node, dict):
                node = node.get(key)
            if isinstance(node, str) and node:
                picked.append(node)
        return picked

    return BeforeValidator(pick)


def _or(empty: Any) -> BeforeValidator:
    """``null`` → ``empty``."""
    return BeforeValidator(lambda value: empty if value is None else value)


Ids = Annotated[list[str], _nodes("id")]
Names = Annotated[list[str], _nodes("name")]
Flag = Annotated[bool, _or(False)]


class LinearIssue(Entity):
    """An issue of a team the user can see; archived and trashed ones included (``archived_at``,
    ``trashed``). ``priority``: 0 none, 1 urgent, 2 high, 3 medium, 4 low."""

    entity_type: ClassVar[str] = "issues"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    identifier: str
    number: int
    title: str
    description: str | None = None
    priority: int = 0
    priority_label: str | None = Field(None, validation_alias="priorityLabel")
    estimate: float | None = None
    url: str
    branch_name: str | None = Field(None, validation_alias="branchName")
    state_id: str = _at("state", "id", default=...)
    state_name: str = _at("state", "name", default=...)
    state_type: str = _at("state", "type", default=...)
    assignee_id: str | None = _at("assignee", "id")
    assignee_name: str | None = _at("assignee", "name")
    creator_id: str | None = _at("creator", "id")
    creator_name: str | None = _at("creator", "name")
    team_id: str = _at("team", "id", default=...)
    team_key: str = _at("team", "key", default=...)
    team_name: str = _at("team", "name", default=...)
    project_id: str | None = _at("project", "id")
    project_name: str | None = _at("project", "name")
    cycle_id: str | None = _at("cycle", "id")
    cycle_number: int | None = _at("cycle", "number")
    cycle_name: str | None = _at("cycle", "name")
    parent_id: str | None = _at("parent", "id")
    parent_identifier: str | None = _at("parent", "identifier")
    label_ids: Ids = Field([], validation_alias="labels")
    label_names: Names = Field([], validation_alias="labels")
    created_at: datetime = Field(validation_alias="createdAt")
    updated_at: datetime = Field(validation_alias="updatedAt")
    started_at: datetime | None = Field(None, validation_alias="startedAt")
    completed_at: datetime | None = Field(None, validation_alias="completedAt")
    canceled_at: datetime | None = Field(None, validation_alias="canceledAt")
    archived_at: datetime | None = Field(None, validation_alias="archivedAt")
    due_date: date | None = Field(None, validation_alias="dueDate")
    trashed: Flag = False


class LinearComment(Entity):
    """A comment; ``issue_id`` is ``None`` for comments on project updates and documents."""

    entity_type: ClassVar[str] = "comments"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    body: str
    url: str | None = None
    issue_id: str | None = _at("issue", "id")
    issue_identifier: str | None = _at("issue", "identifier")
    user_id: str | None = _at("user", "id")  # None for comments made by integrations
    user_name: str | None = _at("user", "name")
    parent_id: str | None = _at("parent", "id")
    created_at: datetime = Field(validation_alias="createdAt")
    updated_at: datetime = Field(validation_alias="updatedAt")
    edited_at: datetime | None = Field(None, validation_alias="editedAt")
    archived_at: datetime | None = Field(None, validation_alias="archivedAt")
    resolved_at: datetime | None = Field(None, validation_alias="resolvedAt")


class LinearProject(Entity):
    """A project; ``status_type`` is Linear's ``backlog``/``planned``/``started``/``paused``/
    ``completed``/``canceled``. ``progress`` (0 to 1) moves with its issues, so it is volatile."""

    entity_type: ClassVar[str] = "projects"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"progress"})

    id: str
    name: str
    description: str | None = None
    slug_id: str | None = Field(None, validation_alias="slugId")
    url: str
    progress: float | None = None
    priority: int = 0
    status_id: str | None = _at("status", "id")
    status_name: str | None = _at("status", "name")
    status_type: str | None = _at("status", "type")
    lead_id: str | None = _at("lead", "id")
    lead_name: str | None = _at("lead", "name")
    team_ids: Ids = Field([], validation_alias="teams")
    start_date: date | None = Field(None, validation_alias="startDate")
    target_date: date | None = Field(None, validation_alias="targetDate")
    created_at: datetime = Field(validation_alias="createdAt")
    updated_at: datetime = Field(validation_alias="updatedAt")
    started_at: datetime | None = Field(None, validation_alias="startedAt")
    completed_at: datetime | None = Field(None, validation_alias="completedAt")
    canceled_at: datetime | None = Field(None, validation_alias="canceledAt")
    archived_at: datetime | None = Field(None, validation_alias="archivedAt")


class LinearTeam(Entity):
    """A team the user is a member of (or can see: public teams of the workspace)."""

    entity_type: ClassVar[str] = "teams"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    key: str
    name: str
    description: str | None = None
    visibility: str | None = None  # public, private or restricted (``private`` is deprecated)
    icon: str | None = None
    color: str | None = None
    timezone: str | None = None
    cycles_enabled: Flag = Field(False, validation_alias="cyclesEnabled")
    created_at: datetime = Field(validation_alias="createdAt")
    updated_at: datetime = Field(validation_alias="updatedAt")
    archived_at: datetime | None = Field(None, validation_alias="archivedAt")


class LinearUser(Entity):
    """A user of the workspace; disabled (``active`` false) and guest users included."""

    entity_type: ClassVar[str] = "users"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    name: str
    display_name: str | None = Field(None, validation_alias="displayName")
    email: str | None = None
    active: Flag = False
    admin: Flag = False
    guest: Flag = False
    avatar_url: str | None = Field(None, validation_alias="avatarUrl")
    timezone: str | None = None
    url: str | None = None
    is_me: Flag = Field(False, validation_alias="isMe")
    created_at: datetime = Field(validation_alias="createdAt")
    updated_at: datetime = Field(validation_alias="updatedAt")
    archived_at: datetime | None = Field(None, validation_alias="archivedAt")
