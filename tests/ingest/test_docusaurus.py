"""Parser fixtures: each Docusaurus feature the ingest must handle."""

from pathlib import Path

import pytest

from ingest.docusaurus import ParseError, Slugger, parse_document

BASE = "https://book.example/docs"


def page(tmp_path: Path, rel: str, text: str | bytes) -> Path:
    path = tmp_path / "docs" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def parse(tmp_path, rel, text):
    return parse_document(page(tmp_path, rel, text), tmp_path / "docs", BASE)


def body(doc) -> str:
    return "\n\n".join(s.text for s in doc.sections)


def test_front_matter_fields(tmp_path):
    doc = parse(
        tmp_path,
        "intro.md",
        "---\ntitle: Intro Title\nsidebar_label: Intro\nsidebar_position: 3\ndescription: About it\n---\n\nHello.\n",
    )
    assert (doc.title, doc.description, doc.sidebar_position) == ("Intro Title", "About it", 3.0)
    assert doc.url == f"{BASE}/intro"


def test_title_falls_back_to_h1_then_file_name(tmp_path):
    assert parse(tmp_path, "a.md", "# From Heading\n\nText").title == "From Heading"
    assert parse(tmp_path, "02-b.md", "Text only").title == "b"


@pytest.mark.parametrize(
    "rel,meta,url,doc_id",
    [
        ("01-module/02-lesson.md", "", "/module/lesson", "module/lesson"),
        ("01-module/02-lesson.md", "id: custom", "/module/custom", "module/custom"),
        ("01-module/02-lesson.md", "slug: /elsewhere/page", "/elsewhere/page", "module/lesson"),
        ("01-module/02-lesson.md", "slug: short", "/module/short", "module/lesson"),
        ("module/index.md", "", "/module", "module/index"),
        ("module/module.md", "", "/module", "module/module"),
        ("intro.md", "slug: /", "/", "intro"),
    ],
)
def test_url_rules(tmp_path, rel, meta, url, doc_id):
    doc = parse(tmp_path, rel, f"---\n{meta}\n---\nText\n" if meta else "Text\n")
    assert doc.url == BASE + url
    assert doc.doc_id == doc_id


def test_heading_anchors_follow_github_slugger(tmp_path):
    doc = parse(
        tmp_path,
        "a.md",
        "# Page\n\n## Summary\nx\n\n## Summary\ny\n\n## Summary\nz\n\n"
        "## 2.1 What is **ROS 2**? 🤖\nw\n\n## Custom {#my-id}\nv\n\n## Use `rclpy` & [links](http://x)\nu\n",
    )
    assert [s.anchor for s in doc.sections] == [
        "summary",
        "summary-1",
        "summary-2",
        "21-what-is-ros-2-",
        "my-id",
        "use-rclpy--links",
    ]
    assert doc.sections[3].path == ["2.1 What is ROS 2? 🤖"]


def test_slugger_counts_like_github():
    s = Slugger()
    assert [s.slug("Foo"), s.slug("Foo"), s.slug("Foo 1"), s.slug("Foo")] == ["foo", "foo-1", "foo-1-1", "foo-2"]


def test_heading_trail_nests(tmp_path):
    doc = parse(tmp_path, "a.md", "# T\nintro\n## A\na\n### A1\na1\n## B\nb\n")
    assert [s.path for s in doc.sections] == [[], ["A"], ["A", "A1"], ["B"]]


def test_admonitions_become_labelled_text(tmp_path):
    text = body(parse(tmp_path, "a.md", ":::tip Performance Tip\nUse sim time.\n:::\n\n:::note\nPlain.\n:::\n"))
    assert "**Tip: Performance Tip**\n\nUse sim time." in text and "Note:\nPlain." in text and ":::" not in text


def test_mdx_imports_and_jsx_removed_text_kept(tmp_path):
    text = body(
        parse(
            tmp_path,
            "a.mdx",
            "import Tabs from '@theme/Tabs';\nimport TabItem from '@theme/TabItem';\n"
            'export const meta = 1;\n\n<Tabs>\n<TabItem value="py" label="Python">\nRun the node.\n'
            '</TabItem>\n</Tabs>\n\n<Highlight color="#25c2a0">green</Highlight> text {/* note */}\n',
        )
    )
    assert "import" not in text and "export" not in text and "<" not in text
    assert "Run the node." in text and "green text" in text


def test_code_blocks_are_never_touched(tmp_path):
    code = (
        "```cpp\ntemplate <typename T>\nstd::vector<T> items;\n\nimport foo from 'bar';\n```\n\n"
        '~~~xml\n<robot name="r">\n  <link name="base"/>\n</robot>\n~~~\n\n'
        "```csharp\nList<int> xs = new List<int>();\n// :::tip not an admonition\n```\n"
    )
    text = body(parse(tmp_path, "a.md", code + "\nInline `Map<K, V>` stays and <b>bold</b> goes.\n"))
    assert code.strip() in text
    assert "Inline `Map<K, V>` stays and bold goes." in text


def test_html_reduced_to_text(tmp_path):
    text = body(
        parse(
            tmp_path,
            "a.md",
            "<details>\n<summary>Show answer</summary>\n\nThe answer is 42.<br/>Done.\n"
            '</details>\n\n<img src="x.png" alt="Robot arm diagram" />\n<!-- hidden comment -->\n',
        )
    )
    assert "Show answer" in text and "The answer is 42.\nDone." in text
    assert "[image: Robot arm diagram]" in text and "hidden" not in text and "<" not in text


def test_tables_kept_and_thematic_breaks_dropped(tmp_path):
    table = "| Joint | Motion |\n|:------|------:|\n| `fixed` | None |"
    assert body(parse(tmp_path, "a.md", f"Before\n\n---\n\n{table}\n\n***\n")) == f"Before\n\n{table}"


def test_crlf_and_emoji(tmp_path):
    doc = parse(tmp_path, "a.md", b"---\r\ntitle: T\r\n---\r\n## Hi \xf0\x9f\x91\x8b\r\nLine one\r\nLine two\r\n")
    assert doc.sections[0].text == "Line one\nLine two"
    assert doc.sections[0].path == ["Hi 👋"]


def test_category_label(tmp_path):
    page(tmp_path, "01-ros/_category_.json", '{"label": "Module 1: ROS"}')
    assert parse(tmp_path, "01-ros/a.md", "x").category == "Module 1: ROS"
    assert parse(tmp_path, "02-simulation-basics/a.md", "x").category == "Simulation basics"


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"caf\xe9 au lait", "UTF-8"),
        (b"---\ntitle: [unclosed\n---\ntext", "front matter"),
        (b"---\n- a list\n---\ntext", "front matter"),
    ],
)
def test_unreadable_files_raise_with_reason(tmp_path, content, reason):
    with pytest.raises(ParseError, match=reason):
        parse(tmp_path, "bad.md", content)
