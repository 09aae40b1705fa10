#!/usr/bin/env bash
# Build the lakeFS server binary used by the integration tests.
#
# The pinned version lives in .ci/lakefs/go.mod (a wrapper module that
# repeats lakeFS's replace directives, which `go install pkg@version`
# refuses). The binary is cached outside the repo, keyed by version:
#
#   ${SQLOPS_LAKEFS_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlops/lakefs/<version>}/lakefs
#
# If the binary already exists the build is skipped. All progress goes to
# stderr; the last line on stdout is the absolute path of the binary.
#
# Workarounds (the module zip on the proxy is the git tree, without the
# artifacts that lakeFS's `make build` generates before compiling):
#  * Generated Go code is missing (compiler: "undefined: apigen.…" in
#    pkg/api, "undefined: ClientWithResponsesInterface" in pkg/auth). It is
#    produced by running the module's own `go generate` directives for those
#    two packages; the generator is fetched from the Go module proxy.
#  * The built web UI is missing ("webui/content.go: pattern dist: no
#    matching files found" for its //go:embed). A one-page placeholder
#    webui/dist/index.html is added; the REST API and S3 gateway are
#    unaffected, only the browser UI is absent.
# Go refuses -overlay for files under GOMODCACHE, so the module is copied to
# a temporary directory, patched there, and a temporary copy of the wrapper
# module points at it with a directory replace.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wrapper="$here/lakefs"
module=github.com/treeverse/lakefs

command -v go >/dev/null 2>&1 || { echo "build-lakefs: 'go' not found on PATH" >&2; exit 1; }

version="$(cd "$wrapper" && go list -m -f '{{.Version}}' "$module")"
bin_dir="${SQLOPS_LAKEFS_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlops/lakefs/$version}"
bin="$bin_dir/lakefs"

if [[ -x "$bin" ]]; then
    echo "build-lakefs: using cached $bin" >&2
    echo "$bin"
    exit 0
fi

mkdir -p "$bin_dir"

# Serialise concurrent builds into the same cache directory.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$bin_dir/.build.lock"
    flock 9
    if [[ -x "$bin" ]]; then
        echo "build-lakefs: using cached $bin" >&2
        echo "$bin"
        exit 0
    fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sqlops-lakefs-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "build-lakefs: building lakeFS $version -> $bin" >&2
start=$(date +%s)

# Download the pinned module (verified against go.sum) and find its directory.
src="$(cd "$wrapper" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module")"
[[ -d "$src" ]] || { echo "build-lakefs: module directory not found: $src" >&2; exit 1; }
cp -R "$src" "$work/lakefs-src"
chmod -R u+w "$work/lakefs-src"
mkdir -p "$work/lakefs-src/webui/dist"
cat >"$work/lakefs-src/webui/dist/index.html" <<'EOF'
<!doctype html>
<html><head><meta charset="utf-8"><title>lakeFS</title></head>
<body><p>The lakeFS web UI is not included in this test build; use the API.</p></body></html>
EOF
echo "build-lakefs: generating API code (go generate pkg/auth pkg/api/apigen)" >&2
(cd "$work/lakefs-src" && go generate ./pkg/auth ./pkg/api/apigen)

mkdir -p "$work/wrapper"
cp "$wrapper/go.mod" "$wrapper/go.sum" "$work/wrapper/"
(
    cd "$work/wrapper"
    go mod edit -replace "$module=$work/lakefs-src"
    go build -trimpath -ldflags "-s -w" -o "$bin_dir/.lakefs.tmp.$$" "$module/cmd/lakefs"
)
mv -f "$bin_dir/.lakefs.tmp.$$" "$bin"

echo "build-lakefs: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
