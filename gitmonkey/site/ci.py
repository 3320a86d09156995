"""CI jobs that publish an account repository's site to GitHub / GitLab Pages after each push
(``gitmonkey init --repos --ci github|gitlab --pages``).

The job runs in the account repository's own CI: it checks out the whole history (the charts and
item histories need it), writes a one-account configuration naming the checkout, runs
``gitmonkey site public`` and hands ``public/`` to Pages, which serves it behind the forge's own
access control when the repository is private. Account names are safe folder names (the config's
schema), so they go into the files as they are.
"""

from __future__ import annotations

GITHUB_PAGES_WORKFLOW = ".github/workflows/gitmonkey-pages.yml"

_SETUP = """\
mkdir -p "$SITE_TMP/estate" && ln -sfn "$PWD" "$SITE_TMP/estate/{name}"
printf 'repos_dir: %s\\naccounts:\\n  - {{name: {name}, id: "{id}"}}\\n' "$SITE_TMP/estate" \\
  > "$SITE_TMP/site.yaml"
gitmonkey site {out} --config "$SITE_TMP/site.yaml\""""


def github_pages(name: str, account_id: str) -> str:
    lines = [
        'SITE_TMP="$RUNNER_TEMP"',
        *_SETUP.format(name=name, id=account_id, out='"$SITE_TMP/public"').splitlines(),
    ]
    setup = "\n".join(f"          {line}" for line in lines)
    return f"""\
# Written by `gitmonkey init --ci github --pages`: publishes the gitmonkey site of this account
# repository to GitHub Pages after each push to main (each sync). Enable Pages with the source
# "GitHub Actions" in the repository settings.
name: gitmonkey site
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: gitmonkey-pages
  cancel-in-progress: true
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install gitmonkey
      - name: gitmonkey site
        run: |
{setup}
      - uses: actions/upload-pages-artifact@v3
        with:
          path: ${{{{ runner.temp }}}}/public
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""


def gitlab_pages(name: str, account_id: str) -> str:
    lines = [
        'git update-ref refs/heads/main "$CI_COMMIT_SHA"',
        'SITE_TMP="$(mktemp -d)"',
        *_SETUP.format(name=name, id=account_id, out="public").splitlines(),
    ]
    script = "    - |\n" + "\n".join(f"      {line}" for line in lines)
    return f"""\
# Written by `gitmonkey init --ci gitlab --pages`: publishes the gitmonkey site of this account
# repository to GitLab Pages after each push to the default branch (each sync).
pages:
  image: python:3.12-slim
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  variables:
    GIT_DEPTH: "0"
  before_script:
    - apt-get update -qq && apt-get install -y -qq git >/dev/null
    - pip install gitmonkey
  script:
{script}
  pages:
    publish: public
  artifacts:
    paths: [public]
"""
