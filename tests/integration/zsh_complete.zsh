# zsh_complete.zsh FILE WORD...: prints, one a line, what the zsh completion function in FILE
# offers for the last WORD of the command line WORD... It runs the function itself, with
# zsh's own completion builtins (_describe, compadd, _files) replaced by ones that print
# what they are given, so no terminal is needed.
file=$1
shift
words=("$@")
CURRENT=${#words}
PREFIX=${words[CURRENT]}
_describe() { print -l -- ${(P)${@[-1]}} }
compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }
_files() { print -- '<files>' }
source $file
