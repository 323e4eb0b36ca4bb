"""README's Python example runs as written, and prints what its comments say it prints: each
`print(...)  # a, ~b` line's output is compared with its comment (`~b`: within 10% of b, which
holds the sample error of these seeded runs, ~n^-1/2 = 0.01 at 8192 pairs, with room; plain
values exactly). Numbers README quotes cannot drift from what the package does."""

import os
import re
import sys

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def python_example():
    text = open(README).read()
    section = text[text.index("## Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def expected_outputs(code):
    """``{line number: [values]}`` from the comment of every ``print(...)`` line that starts with
    values (the text after a colon is prose)."""
    out = {}
    for number, line in enumerate(code.splitlines(), start=1):
        m = re.match(r"\s*print\(.*\)\s*#\s*([^:]+?)(?::.*)?$", line)
        if m:
            out[number] = [t.strip() for t in m.group(1).split(",")]
    return out


def matches(printed, want):
    if want.startswith("~"):
        target = float(want[1:])
        return abs(float(printed) - target) <= 0.1 * abs(target)
    return str(printed) == want


def test_readme_python_example_runs_and_prints_what_it_says():
    code = python_example()
    printed = {}

    def record(*values, **_):
        printed[sys._getframe(1).f_lineno] = list(values)

    exec(compile(code, "README.md", "exec"), {"print": record})
    expected = expected_outputs(code)
    assert expected, "the example has annotated prints"
    for number, want in expected.items():
        got = printed[number]
        assert len(got) >= len(want) and all(matches(g, w) for g, w in zip(got, want)), (number, got, want)
