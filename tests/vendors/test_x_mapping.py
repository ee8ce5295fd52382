"""X mappers: a post with its includes joined, the minimal post X sends when no field is asked
for, ``null`` as absent, items without an id skipped, and stored payloads validating back to the
same entity."""

from __future__ import annotations

from typing import Any

from x_mock import PLACE, post

from ait_connectors.vendors.x.data_source import _joined
from ait_connectors.vendors.x.entities import XBookmark, XFollowedAccount, XLikedPost, XPost

AUTHOR = {"id": "1000001", "name": "Account 1", "username": "account_1"}


def _one(item: dict[str, Any], includes: dict[str, Any]) -> dict[str, Any]:
    (joined,) = _joined([item], includes)
    return joined


def test_a_post_with_its_includes() -> None:
    item = post(13, AUTHOR)  # 13 % 4 == 1: a photo; 13 % 5 != 2; 13 % 6 != 3
    key = item["attachments"]["media_keys"][0]
    media = {"media_key": key, "type": "photo", "url": "https://pbs.twimg.com/m.jpg"}
    item["geo"] = {"place_id": PLACE["id"]}
    entity = XPost.from_api(_one(item, {"users": [AUTHOR], "media": [media], "places": [PLACE]}))
    assert entity is not None
    assert (entity.id, entity.author_id, entity.author_username) == (
        item["id"],
        "1000001",
        "account_1",
    )
    assert (
        entity.like_count == 23 and entity.hashtags == ["tag1"] and entity.mentions == ["account_1"]
    )
    assert [m.media_key for m in entity.media] == [key] and entity.media[0].type == "photo"
    assert entity.place_id == PLACE["id"] and entity.place_full_name == "Manhattan, NY"
    assert entity.edit_history_tweet_ids == [item["id"]]


def test_the_minimal_post() -> None:
    item = {
        "id": "1800000000000000001",
        "text": "hi",
        "edit_history_tweet_ids": ["1800000000000000001"],
    }
    entity = XPost.from_api(_one(item, {}))
    assert entity is not None and entity.text == "hi"
    assert entity.created_at is None and entity.author_username is None and entity.media == []
    assert entity.like_count is None and entity.referenced_tweets == [] and entity.hashtags == []


def test_null_is_absent_and_no_id_is_skipped() -> None:
    item = {
        "id": "1800000000000000002",
        "text": "x",
        "public_metrics": None,
        "entities": None,
        "referenced_tweets": None,
        "attachments": None,
        "geo": None,
        "lang": None,
    }
    entity = XLikedPost.from_api(_one(item, {"media": None, "users": None}))
    assert entity is not None and entity.lang is None and entity.media == []
    assert XBookmark.from_api({"text": "no id"}) is None
    assert (
        XFollowedAccount.from_api({"id": "1", "name": "A", "username": "a", "url": None})
        is not None
    )


def test_stored_payloads_validate_back() -> None:
    item = post(17, AUTHOR, referenced_tweets=[{"type": "quoted", "id": "1"}])
    key = item["attachments"]["media_keys"][0]
    entity = XPost.from_api(_one(item, {"users": [AUTHOR], "media": [{"media_key": key}]}))
    assert entity is not None
    assert XPost.model_validate(entity.model_dump(mode="json")) == entity
    user = {"id": "7", "name": "S", "username": "s", "public_metrics": {"followers_count": 3}}
    account = XFollowedAccount.from_api(user)
    assert account is not None and account.followers_count == 3
    assert XFollowedAccount.model_validate(account.model_dump(mode="json")) == account
