#!/usr/bin/env python3
"""Write a copy of template.yaml for one parameter variant, for the offline checks.

    render-template.py OUT.json [--expand] [Name=value ...]

Name=value replaces that parameter's Default, so cfn-lint (which expands Fn::ForEach over the
defaults) sees the variant. `sam validate` takes no parameters. With --expand, the
AWS::LanguageExtensions transform (Fn::ForEach, Fn::ToJsonString) is applied as SAM CLI applies
it, so checkov, which does not expand Fn::ForEach, sees every generated resource.
"""

import json
import sys
from pathlib import Path

from samcli.lib.cfn_language_extensions.api import process_template
from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    out, *rest = argv
    expand = "--expand" in rest
    overrides = dict(a.split("=", 1) for a in rest if a != "--expand")
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for name, value in overrides.items():
        if name not in template["Parameters"]:
            sys.exit(f"render-template: no parameter {name}")
        template["Parameters"][name]["Default"] = value
    if expand:
        defaults = {
            name: p["Default"].split(",") if p["Type"] == "CommaDelimitedList" else p["Default"]
            for name, p in template["Parameters"].items()
            if "Default" in p and name in ("LogGroupNames",)
        }
        template = process_template(template, parameter_values=defaults)
        template["Transform"] = [t for t in template["Transform"] if t != "AWS::LanguageExtensions"]
    Path(out).write_text(json.dumps(template, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
