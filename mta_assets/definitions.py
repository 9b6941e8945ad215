"""The mta_assets code location: every definition under mta_assets/defs, loaded as `dg` loads them, each
staged asset with the kinds of where the configuration puts its stage."""

from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder

from mta_assets.defs.resources import with_configured_kinds


@definitions
def defs() -> Definitions:
    return with_configured_kinds(load_from_defs_folder(path_within_project=Path(__file__).parent))
