"""Escaping of untrusted AWS ids into file names, and the repository layout."""

from __future__ import annotations

import os
import random
import subprocess
import unicodedata

import pytest

from gitmonkey.normalize.paths import (
    MAX_NAME_BYTES,
    HashedIdError,
    ItemLocation,
    escape_id,
    is_hashed_name,
    issue_path,
    item_path,
    parse_item_path,
    slice_prefix,
    unescape_id,
)

_PIECES = [
    "..", ".", "/", "\\", "%", "~", "~h", " ", "\x00", "\n", "\t", "\x7f", "\x1b", "CON", "nul", "Com1",
    "\u202e", "\u200f", "\u200b", "\u0301", "e\u0301", "\u00e9", "\u0130", "\u0131", "\u00df", "\u1e9e",
    "\U0001f600", "\U0001f1eb\U0001f1f7", "\ufeff", "\ud800", "\udfff", "sg-", "AdminRole", "a", "Z",
    "+", "=", ",", "@", "-", "_", ":", "*", "?", '"', "<", ">", "|", "%2e", "%2E", "Ω", "ω", "K", "\u212a",
]


def _random_id(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 8)))
    if kind < 0.7:
        return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 12)))
    if kind < 0.9:
        alphabet = "aAbBzZ09.-_ %~/"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
    return "".join(rng.choice([*_PIECES, "x", "Y"]) for _ in range(rng.randint(60, 250)))


def _corpus() -> list[str]:
    rng = random.Random(1234)
    ids = {_random_id(rng) for _ in range(6000)}
    base = ["sg-0abc", "AdminRole", "my-bucket.logs", "Ab", "aB", "ab", "AB", "x" * 500, "X" * 500]
    ids.update(base)
    for item_id in list(ids)[:1500]:
        ids.update({item_id.upper(), item_id.lower(), item_id.swapcase()})
    return sorted(ids)


CORPUS = _corpus()
ESCAPED = {item_id: escape_id(item_id) for item_id in CORPUS}


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) > 7000
    assert any(len(name) == MAX_NAME_BYTES and is_hashed_name(name) for name in ESCAPED.values())
    assert any(any(unicodedata.category(c) == "Cc" for c in item_id) for item_id in CORPUS)


def test_round_trip_except_hashed_names() -> None:
    hashed = 0
    for item_id, name in ESCAPED.items():
        if is_hashed_name(name):
            hashed += 1
            with pytest.raises(HashedIdError):
                unescape_id(name)
        else:
            assert unescape_id(name) == item_id
    assert 0 < hashed < len(ESCAPED) // 2


def test_every_name_is_one_safe_path_component() -> None:
    reserved = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in range(10)}
    for name in ESCAPED.values():
        assert name.isascii() and name.isprintable()
        assert 0 < len(name.encode("utf-8")) <= MAX_NAME_BYTES
        assert "/" not in name and "\\" not in name and ".." not in name
        assert not name.startswith(".") and not name.endswith((".", " "))
        assert not set(name) & set(' :*?"<>|')
        assert os.path.normpath(name) == name
        assert os.path.basename(os.path.join("items", name)) == name
        assert name.split(".", 1)[0].upper() not in reserved


def test_no_case_insensitive_collisions() -> None:
    assert len({name.lower() for name in ESCAPED.values()}) == len(CORPUS)
    assert len({name.casefold() for name in ESCAPED.values()}) == len(CORPUS)
    assert len({unicodedata.normalize("NFD", name).casefold() for name in ESCAPED.values()}) == len(CORPUS)


@pytest.mark.parametrize(
    ("item_id", "name"),
    [
        ("sg-0abc", "sg-0abc"),
        ("my-bucket.logs", "my-bucket.logs"),
        ("AdminRole", "AdminRole~21"),
        ("user+ci@example=x,y", "user+ci@example=x,y"),
        ("adminrole", "adminrole"),
        ("ADMINROLE", "ADMINROLE~1ff"),
        ("a/b\\c", "a%2fb%5cc"),
        ("..", "%2e%2e"),
        (".hidden", "%2ehidden"),
        ("a..b", "a.%2eb"),
        ("trail.", "trail%2e"),
        ("trail ", "trail%20"),
        ("100%~", "100%25%7e"),
        ("CON", "%43ON~3"),
        ("nul.txt", "%6eul.txt"),
        ("com1", "%63om1"),
        ("console", "console"),
        ("caf\u00e9", "caf%c3%a9"),
        ("\x00\n", "%00%0a"),
    ],
)
def test_readable_examples(item_id: str, name: str) -> None:
    assert escape_id(item_id) == name
    assert unescape_id(name) == item_id


def test_long_ids_are_hashed_distinctly() -> None:
    lower, upper = "x" * 300, "X" * 300
    assert escape_id(lower).startswith("x" * 100)
    assert escape_id(lower).lower() != escape_id(upper).lower()
    assert escape_id(lower + "a") != escape_id(lower + "b")
    with pytest.raises(HashedIdError, match="read the id from the document"):
        unescape_id(escape_id(lower))
    assert escape_id("\u00e9" * 100).startswith("%c3%a9")
    assert not escape_id("\u00e9" * 100).split("~h")[0].endswith(("%", "%c"))


def test_escaped_names_are_real_files_in_git(tmp_path) -> None:
    """Every kind of name survives a real checkout: git stores exactly the path we wrote."""
    sample = [ESCAPED[i] for i in CORPUS[:: max(1, len(CORPUS) // 300)]]
    folder = tmp_path / "items"
    folder.mkdir()
    for name in sample:
        (folder / f"{name}.json").write_text("{}\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "items"], check=True)
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "-z", "items"], check=True, capture_output=True, text=True
    ).stdout.split("\0")
    assert sorted(p for p in listed if p) == sorted(f"items/{name}.json" for name in sample)


@pytest.mark.parametrize("bad", ["", "%", "%2", "%2E", "%zz", "a/b", "a~", "abc~1", "Abc", "Abc~3", "a..b",
                                 ".a", "a%2d", "%ff", "CON~3", "x~h" + "0" * 31, "~h" + "g" * 32])
def test_unescape_rejects_names_escape_cannot_produce(bad: str) -> None:
    with pytest.raises(ValueError):
        unescape_id(bad)


def test_escape_rejects_empty_and_non_str() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        escape_id("")
    with pytest.raises(TypeError):
        escape_id(b"sg-1")  # type: ignore[arg-type]


def test_item_and_issue_paths() -> None:
    sg_path = "items/us-east-1/ec2/security_group/sg-0abc.json"
    assert item_path("us-east-1", "ec2.security_group", "sg-0abc") == sg_path
    assert issue_path("global", "iam.role", "AdminRole") == "issues/global/iam/role/AdminRole~21.yaml"
    assert slice_prefix("eu-west-3", "s3.bucket") == "items/eu-west-3/s3/bucket/"
    assert slice_prefix("us-gov-west-1", "s3.bucket", kind="issues") == "issues/us-gov-west-1/s3/bucket/"
    traversal = item_path("global", "iam.user", "../../etc/passwd")
    assert traversal == "items/global/iam/user/%2e.%2f.%2e%2fetc%2fpasswd.json"


def test_parse_item_path_round_trips() -> None:
    for item_id in CORPUS[::50]:
        path = item_path("ap-southeast-2", "iam.role", item_id)
        location = parse_item_path(path)
        assert location.region == "ap-southeast-2"
        assert (location.technology, location.kind) == ("iam.role", "items")
        assert location.id == (None if is_hashed_name(ESCAPED[item_id]) else item_id)
    issue = parse_item_path(issue_path("global", "iam.role", "AdminRole"))
    assert issue == ItemLocation("global", "iam.role", "AdminRole", kind="issues", name="AdminRole~21")


@pytest.mark.parametrize(
    "path",
    [
        "justifications/global/iam/role/x.yaml",
        "items/global/iam/role/x.yaml",
        "issues/global/iam/role/x.json",
        "items/global/iam/x.json",
        "items/global/iam/role/sub/x.json",
        "items/Global/iam/role/x.json",
        "items/us-east/iam/role/x.json",
        "items/global/IAM/role/x.json",
        "items/global/iam/ro-le/x.json",
        "items/global/iam/role/.json",
        "items/global/iam/role/a%2Fb.json",
        "items/global/iam/role/Abc.json",
        "/items/global/iam/role/x.json",
    ],
)
def test_parse_item_path_rejects_other_paths(path: str) -> None:
    with pytest.raises(ValueError):
        parse_item_path(path)


@pytest.mark.parametrize(
    ("region", "technology"),
    [
        ("US-EAST-1", "ec2.sg"),
        ("us-east-1", "ec2"),
        ("us-east-1", "ec2.sg.x"),
        ("", "ec2.sg"),
        ("global", ""),
    ],
)
def test_invalid_region_or_technology(region: str, technology: str) -> None:
    with pytest.raises(ValueError, match=r"invalid (region|technology)"):
        item_path(region, technology, "x")
