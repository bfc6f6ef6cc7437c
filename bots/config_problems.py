"""How the config file's models report problems: every one at once, one line each, starting with its key path
(`profiles.acme.policy.expiry: must be longer than 0s`), a misspelt key among them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A key the model does not know is a problem, not ignored, so a typo cannot silently leave a default in place."""

    model_config = ConfigDict(extra="forbid")


class Nested(ValueError):
    """Problems below the key being validated, each already starting with its path relative to that key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-") or part in ("str", "int"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def problem_lines(error: Any) -> list[str]:
    """One line per problem of a pydantic error, the key path first; pydantic's "Value error, " prefix is noise to an
    operator."""
    where = _loc(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Nested):
        return [f"{where}.{p}" if where != "(root)" else p for p in cause.problems]
    return [f"{where}: {error['msg'].removeprefix('Value error, ')}"]


def below(key: str, line: str) -> str:
    """A problem line of a nested model, its path put under `key` ("(root): x" is the key's own problem)."""
    where, _, what = line.partition(": ")
    return f"{key}: {what}" if where == "(root)" else f"{key}.{line}"
