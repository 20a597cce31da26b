"""The configuration table in docs/operations.md is generated from the Settings classes."""

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.ocr.settings import OcrSettings
from shared.settings import CommonSettings
from shared.storage import StorageSettings
from tools.docs.markers import replace_between
from tools.docs.settings_table import render, settings_classes


class BaseForTest(BaseSettings):
    """Shared by the test services."""

    url: str = Field("x://", validation_alias=AliasChoices("TEST_URL"), description="Where.")
    limit: float = Field(2.5, ge=0.5, description="How much.")


class FirstForTest(BaseForTest):
    model_config = SettingsConfigDict(env_prefix="FIRST_")

    limit: float = Field(7.0, description="More, here.")
    name: str | None = Field(None, description="Optional.")


class SecondForTest(BaseForTest):
    model_config = SettingsConfigDict(env_prefix="SECOND_")


def test_every_settings_class_of_the_services_is_found() -> None:
    found = set(settings_classes())
    assert {CommonSettings, StorageSettings, OcrSettings} <= found


def test_an_alias_is_the_variable_and_a_base_class_field_takes_its_services_prefix() -> None:
    table = render([BaseForTest, FirstForTest, SecondForTest])
    assert "`<PREFIX>` is the reading service's: `FIRST`, `SECOND`." in table
    assert "| `TEST_URL` | string | `x://` | Where. |" in table
    assert "| `<PREFIX>_LIMIT` | number, ≥ 0.5 | `2.5` | How much. |" in table
    assert "| `FIRST_LIMIT` | number | `7` | More, here. |" in table
    assert "| `FIRST_NAME` | string | (unset) | Optional. |" in table
    assert "SECOND_" not in table.split("### `SecondForTest`")[1]  # nothing of its own


def test_a_field_without_a_description_is_named_and_fails_the_generation() -> None:
    class Undocumented(BaseSettings):
        quiet: int = 1

    with pytest.raises(SystemExit, match=r"Undocumented\.quiet"):
        render([Undocumented])


def test_only_the_text_between_the_markers_is_replaced() -> None:
    text = "intro\n<!-- table:start (note) -->\nold\n<!-- table:end -->\noutro\n"
    assert replace_between(text, "table", "new") == (
        "intro\n<!-- table:start (note) -->\nnew\n<!-- table:end -->\noutro\n"
    )
    with pytest.raises(ValueError, match="table:end"):
        replace_between("<!-- table:start -->\nold\n", "table", "new")
