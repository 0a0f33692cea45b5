#!/usr/bin/env bash
#
# run.sh: the friendly front door of the bash example (what `make run` calls).
#
#   ./run.sh [loopback|openai|claude|anthropic|ollama] [options] [PROMPT]
#
# A first bare word that names a provider becomes `--provider NAME`, as in the Python
# demo; everything else goes to ./token-budget unchanged. To send a prompt that is a
# provider name, put it after `--`. With --from-make the words come from the ARGS
# environment variable, split like a shell would but with nothing expanded.

set -uo pipefail

here="$(dirname -- "$(realpath -e -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../../../../bash/lib/common.sh
source "$here/../../../../bash/lib/common.sh"
nx_init run.sh

readonly PROVIDERS=" loopback openai claude anthropic ollama "

main() {
    local -a args=("$@")

    if [[ "${1:-}" == --from-make ]]; then
        nx_split_words "${ARGS:-}" || exit "$NX_EXIT_USAGE"
        args=("${NX_WORDS[@]}")
    fi

    if ((${#args[@]} > 0)) && [[ "$PROVIDERS" == *" ${args[0]} "* ]]; then
        args=(--provider "${args[@]}")
    fi

    nx_load_modes "${args[@]}" || exit "$NX_EXIT_USAGE"
    nx_trace "running $here/token-budget with ${#args[@]} argument(s)"
    nx_step "run.sh hands the arguments to ./token-budget, the bash implementation," \
        "which runs the Python reference CLI from the installed SDK."

    exec "$here/token-budget" "${args[@]}"
}

main "$@"
