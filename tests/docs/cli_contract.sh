#!/bin/sh
# cli_contract.sh MAILSEC MANPAGE CLI_MD VERSION - the CLI contract of
# docs/cli.md: `--help` on every command and subcommand (exit 0, usage on
# stdout), `--version` (exit 0, the meson project version), the top-level
# help lists exactly the commands the man page documents (and every one of
# them runs), an unknown command is a usage error, and docs/cli.md lists
# every exit code the man page lists.
set -u
M=$1 MAN=$2 MD=$3 VERSION=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# run NAME WANT_RC CMD...: stdout in $T/out, stderr in $T/err
run() {
  name=$1 want=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; rc=$?
  [ "$rc" = "$want" ] && ok || bad "$name: exit $rc, want $want: $(head -c 300 "$T/err")"
}
# The command words of a help text (the first column after "commands:").
cmds_of() { sed -n '/^commands:/,$p' "$1" | awk 'NR > 1 && NF {print $1}'; }

run "--version" 0 "$M" --version
[ "$(cat "$T/out")" = "mailsec $VERSION" ] && ok || bad "--version printed '$(cat "$T/out")'"

run "--help" 0 "$M" --help
cp "$T/out" "$T/top"
cmds_of "$T/top" | sort > "$T/listed"
[ -s "$T/listed" ] && ok || bad "--help lists no commands"
# The man page's commands: the first word of each entry under COMMANDS.
sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$MAN" | grep '^\.BI* "' | sed 's/\\-/-/g' |
  sed 's/^\.BI* "\([a-z-]*\).*/\1/' | sort -u > "$T/documented"
diff "$T/documented" "$T/listed" > "$T/d" && ok ||
  bad "top-level help and the man page list different commands: $(cat "$T/d")"

for c in $(cat "$T/listed"); do
  run "$c --help" 0 "$M" "$c" --help
  grep -q "^usage: mailsec $c" "$T/out" && ok || bad "$c --help: no usage line on stdout"
  cp "$T/out" "$T/help-$c"
  subs=$(cmds_of "$T/help-$c")
  # A group's help lists its subcommands, and the top-level line names them.
  if [ -n "$subs" ]; then
    line=$(grep "^  $c " "$T/top")
    for s in $subs; do
      echo "$line" | grep -q "[ |]$s[ :]" && ok || bad "top-level help of $c omits $s"
      run "$c $s --help" 0 "$M" "$c" "$s" --help
      grep -q "^usage: mailsec $c $s" "$T/out" && ok || bad "$c $s --help: no usage"
      sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$MAN" | sed 's/\\-/-/g' |
        grep -q "^\.BI* \"$c $s\|, $c $s " && ok ||
        bad "$c $s is not in the man page"
    done
    run "$c nosuch" 2 "$M" "$c" nosuch-command
  fi
  # --help wins wherever it stands, also after other arguments.
  run "$c ... --help" 0 "$M" "$c" $subs --help
done
run "unknown command" 2 "$M" nosuch-command
grep -q "unknown command" "$T/err" && ok || bad "unknown command: no message"
run "no command" 2 "$M"

# Every exit code of the man page's EXIT STATUS has a row in docs/cli.md,
# and the subcommands the man page gives a verdict exit name there too.
codes=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN" | grep -o '\(^\|[;(] *\)[0-9] ' |
  grep -o '[0-9]' | sort -u)
[ -n "$codes" ] && ok || bad "no exit codes found in the man page"
for n in $codes; do
  grep -q "^| $n |" "$MD" && ok || bad "exit code $n of the man page is not in docs/cli.md"
done
for w in verify probe match parse send; do
  sed -n '/^## Exit codes/,/^## /p' "$MD" | grep -q "$w" && ok ||
    bad "docs/cli.md's exit codes do not name $w (the man page does)"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
