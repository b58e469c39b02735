"""The layer's pinned requirements agree with pyproject.toml, the one dependency list."""

import tomllib

from round0_testkit.template import REPO_ROOT, load_template


def requirement_lines(text: str) -> dict[str, str]:
    pins = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_layer_pins_every_runtime_dependency_of_pyproject_but_boto3() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = requirement_lines("\n".join(project["project"]["dependencies"]))
    layer = requirement_lines(
        (REPO_ROOT / "layers" / "round0" / "requirements.txt").read_text(encoding="utf-8")
    )
    assert all(layer.values()), "every layer requirement is pinned with =="
    for name, version in declared.items():
        if name == "boto3":  # provided by the Lambda runtime
            assert name not in layer
        else:
            assert layer.get(name) == version, f"{name} differs between pyproject and layer"


def test_every_function_uses_the_runtime_and_the_shared_layer() -> None:
    template = load_template()
    assert template["Globals"]["Function"]["Runtime"] == "python3.13"
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = REPO_ROOT / resource["Properties"]["CodeUri"]
            package = resource["Properties"]["Handler"].split(".")[0]
            assert (code / package / "app.py").is_file(), name
