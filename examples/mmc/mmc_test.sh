#!/usr/bin/env bash
# Tests mmc's subcommands (output and exit code) against two throwaway servers:
#   examples/run_example.sh MEMCACHED --servers 2 bash examples/mmc/mmc_test.sh path/to/mmc
set -uo pipefail
mmc=$1
IFS=, read -r A B <<<"$MEMCACHE_SERVERS"
port_a=${A##*:}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# run [--stdin TEXT] ARGS...: runs mmc; sets $out, $err and $rc.
run() {
    local input=
    if [ "${1:-}" = --stdin ]; then input=$2; shift 2; fi
    printf '%b' "$input" | "$mmc" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    out=$(cat "$work/out")
    err=$(cat "$work/err")
}
fail() {
    echo "FAILED: $*" >&2
    echo "  stdout: $out" >&2
    echo "  stderr: $err" >&2
    failures=$((failures + 1))
}
# expect RC [STDOUT]: the last run's exit code, and its whole stdout when given.
expect() {
    [ "$rc" = "$1" ] || fail "$last: exit code $rc, expected $1"
    if [ $# -ge 2 ] && [ "$out" != "$2" ]; then fail "$last: stdout differs from: $2"; fi
}
expect_out() { [[ $out == *"$1"* ]] || fail "$last: stdout lacks: $1"; }
expect_err() { [[ $err == *"$1"* ]] || fail "$last: stderr lacks: $1"; }
# expect_line REGEX: some line of stdout matches.
expect_line() { grep -Eq -- "$1" <<<"$out" || fail "$last: no stdout line matches: $1"; }
# t DESCRIPTION: names the next checks.
t() { last=$1; }

# Sends raw text to server A and prints its first answer line (to seed test cases the
# client would not create: other flags, lease placeholders, stale items).
raw_a() {
    exec 3<>"/dev/tcp/127.0.0.1/$port_a"
    printf '%b' "$1" >&3
    local line
    IFS= read -r -t 2 line <&3
    exec 3<&-
    printf '%s' "${line%$'\r'}"
}

# ---- help and usage errors ------------------------------------------------------------
t "help";            run --help;                      expect 0; expect_out "usage: mmc [OPTIONS] COMMAND"
for c in get set del touch incr where stats dump warm drain flush; do
    t "$c --help";   run "$c" --help;                 expect 0; expect_out "usage: mmc $c"
done
t "help warm";       run help warm;                   expect 0; expect_out "usage: mmc warm"
t "version";         run --version;                   expect 0; expect_out "mmc (meta_memcache "
t "no command";      run;                             expect 2; expect_err "missing COMMAND"
t "unknown command"; run frob;                        expect 2; expect_err 'unknown command "frob"'
t "unknown option";  run get k --bogus;               expect 2; expect_err "unknown option --bogus"
t "missing key";     run get;                         expect 2; expect_err "get: missing KEY"
t "set: no value";   run set k;                       expect 2; expect_err "set: missing KEY VALUE"
t "bad TTL";         run set k v --ttl abc;           expect 2; expect_err 'bad TTL'
t "negative TTL";    run set k v --ttl -5;            expect 2; expect_err 'bad TTL'
t "option elsewhere"; run get k --ttl 5;              expect 2; expect_err "--ttl does not apply to get"
t "touch: no TTL";   run touch k;                     expect 2; expect_err "missing --ttl"
t "incr: bad delta"; run incr k abc;                  expect 2; expect_err 'bad delta "abc"'
t "bad address";     run --servers 127.0.0.1:x get k; expect 2; expect_err 'bad server address "127.0.0.1:x"'
t "bad weight";      run --servers "$A weight=0" get k; expect 2; expect_err "bad weight"
t "bad mode";        run --mode md5 get k;            expect 2; expect_err 'unknown hash mode "md5"'
t "empty key";       run get "";                      expect 2; expect_err "key is empty"
t "no servers";      MEMCACHE_SERVERS= run get k;     expect 2; expect_err "no servers"
t "dead server";     run --servers 127.0.0.1:1 --timeout 200 get k; expect 3; expect_err "connect failed"

# ---- get, set, del, touch, incr ---------------------------------------------------------
t "set";             run set greeting hello --ttl 100; expect 0 ""
t "get";             run get greeting;                expect 0 "hello"
t "get a miss";      run get nothing;                 expect 1 ""; expect_err "nothing: not found"
t "get several";     run get greeting nothing;        expect 1 "$(printf 'greeting\thello')"
t "get --info";      run get --info greeting;         expect 0
[[ $out =~ ^greeting\ ttl=(9[0-9]|100)\ flags=16\ size=5\ cas=[0-9]+\ last_access=[0-9]+\ fetched=yes$ ]] ||
    fail "get --info: unexpected line"
t "set from stdin";  run --stdin 'two\nlines' set poem -; expect 0
t "get it back";     run get poem;                    expect 0 "$(printf 'two\nlines')"
t "del";             run del poem;                    expect 0 ""
t "del a miss";      run del poem;                    expect 1; expect_err "poem: not found"
t "touch";           run touch greeting --ttl 500;    expect 0 ""
t "touched TTL";     run get --info greeting;         expect 0
[[ $out =~ \ ttl=(4[0-9][0-9]|500)\  ]] || fail "touch: TTL not 500"
t "touch a miss";    run touch nothing --ttl 5;       expect 1; expect_err "nothing: not found"
t "counter";         run set visits 10;               expect 0
t "incr";            run incr visits;                 expect 0 "11"
t "incr 5";          run incr visits 5;               expect 0 "16"
t "incr -20";        run incr visits -- -20;          expect 0 "0"
t "incr, no --";     run incr visits -20;             expect 2; expect_err "a negative number goes after --"
t "incr a miss";     run incr nothing;                expect 1; expect_err "nothing: not found"
t "incr text";       run incr greeting;               expect 3; expect_err "non-numeric"

# ---- where: known placements, without connecting -------------------------------------
uh="1.1.1.1:11211,2.2.2.2:11211,3.3.3.3:11211"
t "where (uhashring)"; run --servers "$uh" where foo bar
expect 0 "$(printf 'foo -> 2.2.2.2:11211\nbar -> 1.1.1.1:11211')"
t "where from stdin"; run --stdin 'foo\nbar\n' --servers "$uh" where
expect 0 "$(printf 'foo -> 2.2.2.2:11211\nbar -> 1.1.1.1:11211')"
t "where (weights)"; run --servers "1.1.1.1:11211,2.2.2.2:11211 weight=3,3.3.3.3:11211 weight=2" where foo c user:1
expect 0 "$(printf 'foo -> 2.2.2.2:11211\nc -> 1.1.1.1:11211\nuser:1 -> 3.3.3.3:11211')"
t "where (ketama)"; run --mode ketama --servers "10.0.1.1:11211 weight=600,10.0.1.2:11211 weight=300,10.0.1.3:11211 weight=200,10.0.1.4:11211 weight=350,10.0.1.5:11211 weight=1000,10.0.1.6:11211 weight=800,10.0.1.7:11211 weight=950,10.0.1.8:11211 weight=100" where '1I=cTMNTKF' 'P1[Ma3=K1/'
expect 0 "$(printf '1I=cTMNTKF -> 10.0.1.5:11211\nP1[Ma3=K1/ -> 10.0.1.8:11211')"
t "where (libmc, alias)"; run --mode libmc_md5 --servers "10.0.0.1:11211,10.0.0.2:11212,cache-3.example:11211 mc-3,/tmp/mc.sock" where foo bar b e
expect 0 "$(printf 'foo -> /tmp/mc.sock\nbar -> 10.0.0.2:11212\nb -> mc-3 (cache-3.example:11211)\ne -> 10.0.0.1:11211')"
t "where --to"; run --servers "$uh" where foo bar --to "$uh,4.4.4.4:11211"
expect_out "foo -> 2.2.2.2:11211"; expect_out "keys move"
t "where: weights unsupported"; run --mode libmc_md5 --servers "1.1.1.1:11211 weight=2" where foo
expect 2; expect_err "has no weights"

# ---- stats ----------------------------------------------------------------------------
t "stats"; run stats; expect 0
expect_out "127.0.0.1:${port_a}"; expect_out "127.0.0.1:${B##*:}"; expect_out "probe"
expect_line '^  version +1\.6'; expect_line '^  curr_items +[0-9]+$'; expect_line '^  pool\.total_created +1$'
t "stats settings"; run --servers "$A" stats settings; expect 0; expect_line "^  tcpport +$port_a\$"
t "stats bogus"; run --servers "$A" stats bogus; expect 3; expect_line '^  stats +failed: .*ERROR'
t "stats reset"; run --servers "$A" stats reset; expect 2; expect_err "not a read"
t "stats, one dead"; run --timeout 200 --servers "$A,127.0.0.1:1" stats; expect 3
expect_line '^  curr_items +[0-9]+$'; expect_line '^  probe +failed: .*connect failed'
expect_line '^  pool\.marked_down +yes$'

# ---- warm from A to B -----------------------------------------------------------------
[ "$(raw_a 'set w:flags 5 300 3\r\none\r\n')" = STORED ] || fail "seed w:flags"
[ "$(raw_a 'set w:forever 0 0 3\r\ntwo\r\n')" = STORED ] || fail "seed w:forever"
raw_a 'mg w:lease N30\r\n' >/dev/null                       # a lease placeholder
[ "$(raw_a 'set w:stale 0 300 3\r\nold\r\n')" = STORED ] || fail "seed w:stale"
raw_a 'md w:stale I T30\r\n' >/dev/null                     # marked stale
[ "$(raw_a 'set w:both 0 300 5\r\nolder\r\n')" = STORED ] || fail "seed w:both"
t "seed B"; run --servers "$B" set w:both newer; expect 0
keys='w:flags\nw:forever\nw:lease\nw:stale\nw:both\nw:missing\n'
t "warm"; run --stdin "$keys" warm --from "$A" --to "$B"; expect 0 ""
expect_err "done, 6 keys: 2 copied, 1 present, 1 missing, 2 skipped, 0 failed"
t "warm: TTL and flags kept"; run --servers "$B" get --info w:flags; expect 0
[[ $out =~ ^w:flags\ ttl=(2[0-9][0-9]|300)\ flags=5\  ]] || fail "warm: w:flags lost its TTL or flags"
t "warm: never expires"; run --servers "$B" get --info w:forever; expect 0; expect_out " ttl=-1 flags=0 "
t "warm: no placeholder"; run --servers "$B" get w:lease; expect 1
t "warm: no stale value"; run --servers "$B" get w:stale; expect 1
t "warm: add keeps B's";  run --servers "$B" get w:both;  expect 0 "newer"
t "warm --overwrite"; run --stdin "$keys" warm --from "$A" --to "$B" --overwrite --batch 2; expect 0
expect_err "done, 6 keys: 3 copied, 0 present, 1 missing, 2 skipped, 0 failed"
t "overwritten"; run --servers "$B" get w:both; expect 0 "older"
t "warm: usage"; run warm --from "$A"; expect 2; expect_err "needs --from OLD and --to NEW"
t "warm: no operands"; run warm --from "$A" --to "$B" w:flags; expect 2; expect_err "stdin"
t "warm: dead target"; run --stdin "$keys" --timeout 200 warm --from "$A" --to 127.0.0.1:1; expect 3
expect_err "0 copied"; expect_err "6 failed"
t "warm: bad rate"; run --stdin "$keys" warm --from "$A" --to "$B" --rate 0; expect 2; expect_err "bad --rate"

# ---- get prints exact bytes -------------------------------------------------------------
printf 'no newline at the end' >"$work/value"
"$mmc" set exact - <"$work/value" >/dev/null
t "get: exact bytes"; "$mmc" get exact >"$work/got"; rc=$?; out=; err=
expect 0; cmp -s "$work/value" "$work/got" || fail "get: a newline was added to the value"
t "get --raw"; "$mmc" get --raw exact >"$work/got"; rc=$?
expect 0; cmp -s "$work/value" "$work/got" || fail "get --raw: not the exact bytes"
t "get --raw, two keys"; run get --raw exact greeting; expect 2; expect_err "--raw takes one KEY"

# ---- mmc dump | mmc warm -----------------------------------------------------------------
for i in 1 2 3; do
    [ "$(raw_a "set rt:$i $((i * 7)) 500 2\r\nv$i\r\n")" = STORED ] || fail "seed rt:$i"
done
t "set a binary key"; run --servers "$A" set "rt spaced key" value; expect 0
t "dump"; run dump "$A"; expect 0
expect_line '^rt:2	[0-9]+	[0-9]+$'; expect_line '^rt spaced key	-?[0-9]+	[0-9]+$'; expect_line '^w:forever	-1	'
"$mmc" dump "$A" | "$mmc" warm --from "$A" --to "$B" >"$work/out" 2>"$work/err"; rc=$?; out=$(cat "$work/out"); err=$(cat "$work/err")
t "dump | warm"; expect 0; expect_err "mmc warm: done, "
t "round trip: TTL and flags"; run --servers "$B" get --info rt:2; expect 0
[[ $out =~ ^rt:2\ ttl=(4[0-9][0-9]|500)\ flags=14\  ]] || fail "dump | warm: rt:2 lost its TTL or flags"
t "round trip: binary key"; run --servers "$B" get "rt spaced key"; expect 0 "value"
t "dump: usage"; run dump; expect 2; expect_err "dump: needs one SERVER"

# ---- drain ------------------------------------------------------------------------------
t "drain: unknown server"; run --servers "$A,$B" drain 127.0.0.1:1; expect 2; expect_err "is not one of the servers"
t "drain"; run --servers "$A,$B" drain "$A" --rate 1000; expect 0
expect_err "mmc drain: done, "; expect_err "% moved"
# A key the ring places on A, now also on B.
for i in $(seq 1 40); do
    run --servers "$A,$B" where "dr:$i"
    if [[ $out == *"-> $A" ]]; then dr=dr:$i; break; fi
done
[ "$(raw_a "set $dr 3 400 5\r\nhello\r\n")" = STORED ] || fail "seed $dr"
t "drain again"; run --servers "$A,$B" drain "$A"; expect 0; expect_err "1 copied"
t "drained key at B"; run --servers "$B" get --info "$dr"; expect 0
[[ $out =~ \ flags=3\  ]] || fail "drain: $dr lost its flags"

# ---- several keys with a server down -----------------------------------------------------
dead=127.0.0.1:1
three="$A,$B,$dead"
for i in $(seq 1 60); do
    run --servers "$three" where "down:$i"
    case $out in
        *"-> $dead") [ -z "${kd:-}" ] && kd=down:$i ;;
        *) [ -z "${k1:-}" ] && k1=down:$i || { [ -z "${k2:-}" ] && k2=down:$i; } ;;
    esac
done
run --servers "$three" set "$k1" one; run --servers "$three" set "$k2" two
t "get, one server down"; run --timeout 200 --servers "$three" get "$k1" "$kd" "$k2"; expect 3
expect_out "$(printf '%s\tone' "$k1")"; expect_out "$(printf '%s\ttwo' "$k2")"
expect_err "$kd: failed on $dead"
t "del, one server down"; run --timeout 200 --servers "$three" del "$kd" "$k1" "$k2"; expect 3
expect_err "$kd: failed on $dead"
t "del went on"; run --servers "$three" get "$k2"; expect 1
t "touch, one server down"; run --timeout 200 --servers "$three" touch "$kd" greeting --ttl 50; expect 3
expect_err "$kd: failed on $dead"

# ---- stats changes no counter it shows -----------------------------------------------------
t "stats twice"; run --servers "$A" stats; misses1=$(grep get_misses <<<"$out")
run --servers "$A" stats; misses2=$(grep get_misses <<<"$out")
[ -n "$misses1" ] && [ "$misses1" = "$misses2" ] || fail "stats changed get_misses: $misses1 / $misses2"

# ---- flush ------------------------------------------------------------------------------
t "flush without --yes"; run flush; expect 2; expect_err "add --yes"
t "flush one server"; run flush --yes --server "$B"; expect 0; expect_out "flushed"
t "flushed"; run --servers "$B" get rt:1; expect 1
t "not flushed"; run --servers "$A" get --info rt:1; expect 0

if [ "$failures" -ne 0 ]; then
    echo "mmc_test: $failures check(s) failed" >&2
    exit 1
fi
echo "mmc_test: all checks passed"
