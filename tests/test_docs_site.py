"""The documentation site builds with ``mkdocs build --strict`` and holds its key pages.

Strict mode turns every warning into a failure: a broken link or anchor, a
page missing from the navigation, an API directive naming a module that does
not exist, a docstring mkdocstrings cannot read. The build also runs the
figures page's commands (a tiny sweep and its report) to draw its figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
pytest.importorskip("material", reason="the docs extra is not installed")
pytest.importorskip("matplotlib", reason="the figures page needs the plots extra")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the module's tests."""
    site_dir = tmp_path_factory.mktemp("site")
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-6000:]}"
    return site_dir


def _page(site: Path, name: str) -> str:
    path = site / name / "index.html" if name else site / "index.html"
    assert path.is_file(), f"the site has no page {name or 'index'}"
    return path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_home_page_is_the_readme_with_links_into_the_site(site):
    home = _page(site, "")
    assert 'id="fidelity-and-speed"' in home and 'href="#fidelity-and-speed"' in home
    assert 'href="architecture/"' in home and 'href="howto-add-a-problem/"' in home
    assert 'href="docs/' not in home


@pytest.mark.slow
def test_the_api_reference_documents_the_modules_from_their_docstrings(site):
    dataset = _page(site, "api/dataset")
    assert 'id="archgym.dataset.load_dataset"' in dataset
    assert "Load a dataset directory (or a single part file) as one DataFrame." in dataset
    # The docstrings' reStructuredText reads as intended: cross-references are links, the schema's simple
    # table is a table, and the literal terms of the file list are list items.
    assert ":func:" not in dataset and 'href="#archgym.dataset.new_run_id"' in dataset
    assert "<td><code>run_id</code></td>" in dataset and "====" not in dataset
    assert "<li><code>_journal-&lt;run_id&gt;.jsonl</code>: A schema header line" in dataset
    # Modules that no page names are documented on the page of other modules, found when the site is built.
    other = _page(site, "api/other-modules")
    assert 'id="archgym.progress"' in other and 'id="archgym.cache"' in other and 'id="archgym.cli' not in other
    agents = _page(site, "api/agents")
    assert 'id="archgym.agents.ga.GeneticAlgorithm"' in agents


@pytest.mark.slow
def test_the_guides_link_source_files_to_their_api_pages(site):
    guide = _page(site, "howto-add-a-backend")
    assert 'href="../api/external/#archgym.external"' in guide


@pytest.mark.slow
def test_the_data_dictionary_and_figures_are_there(site):
    dictionary = _page(site, "data-dictionary")
    assert 'id="knob-columns"' in dictionary and "<code>objective_spec</code>" in dictionary
    figures = _page(site, "figures")
    for picture in ("convergence.png", "lottery.png", "pareto.png"):
        assert f'src="{picture}"' in figures
        assert (site / "figures" / picture).stat().st_size > 10_000
    assert "<!-- report-headlines -->" not in figures and "runs of 2 agents" in figures
