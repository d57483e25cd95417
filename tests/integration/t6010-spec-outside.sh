#!/usr/bin/env bash
# t6010-spec-outside: a spec's paths that leave its folder (a file put into the image from
# elsewhere, /etc/passwd say; an output written elsewhere, ../victim/file) are refused unless
# --allow-outside-spec is given, before anything is read or written; with it they are listed
# first. A kernel that is a whole ${VAR} the user's environment sets (KERNEL=/abs/path) is the
# user's choice; other paths from variables, and symbolic links out of the folder, are not.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need debugfs

mkdir -p proj/sub victim
cp "$MBPROBE" proj/kernel.elf
echo secret >victim/file
echo mine >proj/notes.txt
cat >proj/in.yaml <<'YAML'
image:
  kernel: kernel.elf
  size: 16M
  files:
    - {src: notes.txt, dest: /notes.txt}
    - {src: /etc/passwd, dest: /passwd}
output: disk.raw
YAML
cat >proj/out.yaml <<'YAML'
image:
  kernel: ./sub/../kernel.elf
  size: 16M
output: {raw: ../victim/file}
YAML

expect_fail "proj/in.yaml: 1 path leaves the spec's folder ('src' in image.files item 2 at line 6: /etc/passwd" \
    "$MKIMAGE" build -q --spec proj/in.yaml
grep -qF -- "--allow-outside-spec" err || fail "the error does not say how to allow it"
[ ! -e proj/disk.raw ] || fail "a refused spec wrote its output"
expect_fail "1 path leaves the spec's folder (output 'raw' at line 4: ../victim/file" \
    "$MKIMAGE" build -q --spec proj/out.yaml
[ "$(cat victim/file)" = secret ] || fail "a refused spec overwrote ../victim/file"
ls -A victim | grep -q mkimage && fail "a refused spec left a temporary in victim/"
# The default spec found in the current folder is refused the same way.
cp proj/out.yaml proj/unikernel-mkimage.yaml
(cd proj && "$MKIMAGE" build -q) 2>err && fail "the default spec wrote outside its folder"
grep -qF "leaves the spec's folder" err || fail "default spec: $(cat err)"
[ "$(cat victim/file)" = secret ] || fail "the default spec overwrote ../victim/file"
rm proj/unikernel-mkimage.yaml
expect_fail "leaves the spec's folder" "$MKIMAGE" push -q --spec proj/out.yaml
ok "paths leaving the spec's folder are refused without --allow-outside-spec, nothing written"

"$MKIMAGE" build --spec proj/in.yaml --allow-outside-spec >out 2>err ||
    fail "--allow-outside-spec: $(cat err)"
grep -qF "outside the spec's folder (--allow-outside-spec): 'src' in image.files item 2 at line 6: /etc/passwd" err ||
    fail "the outside path was not shown: $(cat err)"
[ "$(head -1 err | grep -c 'outside the spec')" = 1 ] || fail "not shown first: $(cat err)"
debugfs -R "cat /passwd" "proj/disk.raw?offset=1048576" 2>/dev/null | cmp - /etc/passwd ||
    fail "the allowed file is not in the image"
"$MKIMAGE" build -q --spec proj/out.yaml --allow-outside-spec 2>err || fail "allowed output: $(cat err)"
[ "$(cat victim/file)" != secret ] || fail "the allowed output was not written"
ok "--allow-outside-spec lists them first and uses them"

# Inside the folder (./, sub/../) and ${VAR} set by the user: no flag needed.
sed -i 's|../victim/file|sub/../disk2.raw|' proj/out.yaml
"$MKIMAGE" build -q --spec proj/out.yaml 2>err || fail "paths inside the folder: $(cat err)"
cat >proj/env.yaml <<'YAML'
image:
  kernel: ${PROBE:-/nonexistent/kernel}
  size: 16M
output: disk3.raw
YAML
PROBE=$MBPROBE "$MKIMAGE" build -q --spec proj/env.yaml 2>err || fail "\${PROBE}: $(cat err)"
expect_fail "leaves the spec's folder" env -u PROBE "$MKIMAGE" build -q --spec proj/env.yaml
ok "paths inside the folder and a \${VAR} of the user's need no flag"

# Only the kernel takes a whole ${VAR} on trust: whatever it names must be a multiboot kernel.
# Any other path from a variable is the spec's choice of variable, and many are predictable:
# ${GOOGLE_APPLICATION_CREDENTIALS} would put the user's key into an image push uploads.
echo '{"type": "service_account", "private_key": "secret"}' >victim/key.json
cat >proj/creds.yaml <<'YAML'
image:
  kernel: kernel.elf
  size: 16M
  files: [{src: '${GOOGLE_APPLICATION_CREDENTIALS}', dest: /key.json}]
output: disk4.raw
YAML
GOOGLE_APPLICATION_CREDENTIALS=$PWD/victim/key.json expect_fail \
    "1 path leaves the spec's folder ('src' in image.files item 1 at line 4: $PWD/victim/key.json (written as \${GOOGLE_APPLICATION_CREDENTIALS}))" \
    "$MKIMAGE" build -q --spec proj/creds.yaml
[ ! -e proj/disk4.raw ] || fail "a file named by a predictable variable went into an image"
cat >proj/envout.yaml <<'YAML'
image: {kernel: kernel.elf, size: 16M}
output: '${KUBECONFIG}'
YAML
before=$(sha256sum <victim/file)
KUBECONFIG=$PWD/victim/file expect_fail "output item 1 at line 2: $PWD/victim/file (written as \${KUBECONFIG})" \
    "$MKIMAGE" build -q --spec proj/envout.yaml
[ "$(sha256sum <victim/file)" = "$before" ] || fail "an output named by a variable was written"
cp proj/kernel.elf victim/kernel.elf
cat >proj/default.yaml <<'YAML'
image: {kernel: '${PROBE:-../victim/kernel.elf}', size: 16M}
output: disk5.raw
YAML
PROBE= expect_fail "'kernel' in image at line 1: ../victim/kernel.elf (written as \${PROBE:-../victim/kernel.elf})" \
    "$MKIMAGE" build -q --spec proj/default.yaml
ok "only a kernel may come from a variable without the flag; defaults and other paths are checked"

# A symbolic link in the folder (a cloned repository may carry one) is followed for the check.
ln -s ../victim/key.json proj/key.json
ln -s ../victim proj/out
cat >proj/links.yaml <<'YAML'
image:
  kernel: kernel.elf
  size: 16M
  files: [{src: key.json, dest: /key.json}]
output: out/disk6.raw
YAML
expect_fail "2 paths leave the spec's folder ('src' in image.files item 1 at line 4: key.json (a symbolic link to $(realpath victim/key.json)); output item 1 at line 5: out/disk6.raw (its folder is $(realpath victim), through a symbolic link))" \
    "$MKIMAGE" build -q --spec proj/links.yaml
[ ! -e victim/disk6.raw ] || fail "a symbolic link let a spec write outside its folder"
"$MKIMAGE" build -q --spec proj/links.yaml --allow-outside-spec 2>err || fail "allowed links: $(cat err)"
[ -s victim/disk6.raw ] || fail "the allowed output through a link was not written"
ok "symbolic links out of the spec's folder need --allow-outside-spec"
