// SPDX-License-Identifier: Apache-2.0
/*
 * msb completion bash|zsh: shell completion scripts.
 *
 * DOC: Completion
 *
 * One table below lists every command and subcommand, its options (the
 * ones taking a value marked, with what the value can be) and what its
 * arguments are. Both scripts are generated from it: a few data
 * functions (__msb_opts, __msb_vals, __msb_args...) written from the
 * table, then a core function common to both shells (__msb_complete,
 * plain POSIX shell: bash runs it as it is, zsh under `emulate ksh`) that
 * walks the words typed so far with msb's option rule, and a small glue
 * function per shell that hands the core's answer to bash's COMPREPLY or
 * zsh's compadd. Names come from msb itself when the user presses Tab:
 * `msb ls -q` (sandboxes), `msb image ls -q` (images), `msb volume ls`
 * (volumes, first column).
 *
 * The test test_cli_command.sh checks the table against every command's
 * --help text, so a new option without its completion fails a test.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/*
 * What a command's arguments are (args):
 *   sandbox  sandbox names       image    stored images (or a disk path)
 *   volume   volume names        cp       NAME: of a sandbox, host paths
 *   volcp    NAME: of a volume, host paths
 *   command  msb's commands      shells   bash, zsh
 *   none     nothing to offer
 * Options (opts): words separated by spaces; "=" after an option means it
 * takes a value, and what follows the "=" is what the value can be:
 * nothing (free text), "a|b|c" (those words), or one of "<file>",
 * "<dir>", "<image>", "<volume:>" (a volume NAME: or a host directory).
 * With @before >= 0 the command takes a command line (CMD [ARG...]) after
 * @before positional arguments, @need of them required (as cli_args'
 * command mode: the first positional past @before, or what follows
 * "--" once @need are there, starts it).
 */
struct comp_cmd {
	const char *key; /* "run", "image ls" */
	const char *args;
	int before, need;
	const char *opts;
};

#define EXEC_OPTS                                                              \
	"-e= --env= -w=<dir> --workdir=<dir> -u= --user= --ulimit= "           \
	"--timeout= -i --interactive -t --tty --kill-group"
#define COPY_OPTS "-a --archive --max-size= --max-files= -h --help"
#define RUN_OPTS                                                               \
	EXEC_OPTS                                                              \
	" -c= --cpus= -m= --memory= --env-file=<file> --boot-timeout= "        \
	"--pull=always|missing|never --name= --replace -d --detach "           \
	"--restart=no|on-failure|always --rm --no-template --entrypoint= "     \
	"--hostname= "                                                         \
	"--idle-timeout= --on-idle=stop|suspend --max-duration= "              \
	"--platform=linux/amd64|linux/arm64 --label= -v=<volume:> "            \
	"--volume=<volume:> --root-fstype=ext4|ext3|ext2|erofs|squashfs "      \
	"--root-writable --root-size= --tmpfs= --patch-text= --patch-append= " \
	"--patch-copy=<file> --patch-mkdir= --patch-symlink= --patch-remove= " \
	"--network=public|all|none --allow= --deny= --block-domain= "          \
	"--block-domain-suffix= -p= --publish= --secret= --secret-body= "      \
	"--tls-intercept --tls-port= --tls-bypass= --tls-ca=<file> -h --help"
#define SIGNALS "HUP|INT|QUIT|KILL|USR1|USR2|TERM|CONT|STOP|ALRM|PIPE|WINCH"

static const struct comp_cmd comp_cmds[] = {
	{"run", "image", 1, 0, RUN_OPTS " --from-snapshot="},
	{"create", "image", 1, 0, RUN_OPTS " --from-snapshot="},
	{"exec", "sandbox", 1, 1, EXEC_OPTS " -d --detach -h --help"},
	{"shell", "sandbox", 1, 1, EXEC_OPTS " -h --help"},
	{"cp", "cp", -1, 0, COPY_OPTS},
	{"ls", "none", -1, 0,
	 "-a --all -q --quiet --json --format=json -h --help"},
	{"ps", "sandbox", -1, 0,
	 "-a --all -q --quiet --json --format=json -h --help"},
	{"start", "sandbox", -1, 0, "-h --help"},
	{"stop", "sandbox", -1, 0, "-t= --time= -h --help"},
	{"pause", "sandbox", -1, 0, "-h --help"},
	{"resume", "sandbox", -1, 0, "-h --help"},
	{"suspend", "sandbox", -1, 0, "-h --help"},
	{"rm", "sandbox", -1, 0, "-f --force --exec= -h --help"},
	{"kill", "sandbox", -1, 0,
	 "-s=" SIGNALS " --signal=" SIGNALS " --exec= -h --help"},
	{"wait", "sandbox", -1, 0, "-h --help"},
	{"restart", "sandbox", -1, 0, "-h --help"},
	{"logs", "sandbox", -1, 0,
	 "-f --follow -s=main|kernel|exec|vmm|net --source=main|kernel|exec|vmm|net "
	 "--exec= -h --help"},
	{"attach", "sandbox", -1, 0, "--exec= --no-stdin -h --help"},
	{"inspect", "sandbox", -1, 0, "-h --help"},
	{"metrics", "sandbox", -1, 0, "-w --watch --json -h --help"},
	{"doctor", "none", -1, 0, "-h --help"},
	{"pull", "none", -1, 0,
	 "--platform=linux/amd64|linux/arm64 --username= --insecure -q "
	 "--quiet -h --help"},
	{"image", "none", -1, 0, "-h --help"},
	{"image ls", "none", -1, 0,
	 "-q --quiet --json --format=json -h --help"},
	{"image inspect", "image", -1, 0, "-h --help"},
	{"image rm", "image", -1, 0, "-h --help"},
	{"image prune", "none", -1, 0, "-h --help"},
	{"images", "none", -1, 0, "-q --quiet --json --format=json -h --help"},
	{"volume", "none", -1, 0, "-h --help"},
	{"volume create", "none", -1, 0, "-q= --quota= -h --help"},
	{"volume ls", "volume", -1, 0, "--json -h --help"},
	{"volume cp", "volcp", -1, 0, COPY_OPTS},
	{"volume inspect", "volume", -1, 0, "-h --help"},
	{"volume rm", "volume", -1, 0, "-f --force -h --help"},
	{"template", "none", -1, 0, "-h --help"},
	{"template ls", "none", -1, 0,
	 "-q --quiet --json --format=json -h --help"},
	{"template rm", "none", -1, 0, "-h --help"},
	{"template prune", "none", -1, 0, "-a --all -h --help"},
	{"snapshot", "none", -1, 0, "-h --help"},
	{"snapshot create", "sandbox", -1, 0, "--disk-only -h --help"},
	{"snapshot ls", "none", -1, 0,
	 "-q --quiet --json --format=json -h --help"},
	{"snapshot rm", "none", -1, 0, "-h --help"},
	{"fork", "sandbox", -1, 0, "-n= --count= -h --help"},
	{"help", "command", -1, 0, "-h --help"},
	{"completion", "shells", -1, 0, "-h --help"},
	{"mcp", "none", -1, 0, "--allow-host-path=<dir> -h --help"},
};

static const char completion_usage[] =
	"Usage: msb completion bash|zsh\n"
	"\n"
	"Print a completion script for bash or zsh: msb's commands, their\n"
	"options and option values, and the names of sandboxes, images and\n"
	"volumes (asked from msb as you type).\n"
	"\n"
	"  bash: source <(msb completion bash)         (in ~/.bashrc), or save\n"
	"        it as /etc/bash_completion.d/msb\n"
	"  zsh:  save it as _msb in a directory of $fpath, or after compinit:\n"
	"        source <(msb completion zsh)\n";

/* The core common to both shells: POSIX shell that bash runs as it is
 * and zsh under `emulate ksh` (no arrays, no shell-specific expansion). */
static const char core[] =
	"# __msb_takes KEY WORD: whether option WORD of command KEY is followed by\n"
	"# its value (the option is then in __msb_o).\n"
	"__msb_takes() {\n"
	"\tlocal rest c\n"
	"\t__msb_opts \"$1\"\n"
	"\tcase $2 in\n"
	"\t--*=*) return 1 ;;\n"
	"\t--*)\n"
	"\t\t__msb_o=$2\n"
	"\t\tcase \" $__msb_r \" in *\" $2= \"*) return 0 ;; esac\n"
	"\t\treturn 1 ;;\n"
	"\tesac\n"
	"\trest=${2#-}\n"
	"\twhile [ -n \"$rest\" ]; do\n"
	"\t\tc=${rest%\"${rest#?}\"}\n"
	"\t\trest=${rest#?}\n"
	"\t\tcase \" $__msb_r \" in *\" -$c= \"*)\n"
	"\t\t\t__msb_o=-$c\n"
	"\t\t\t[ -z \"$rest\" ]\n"
	"\t\t\treturn ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\treturn 1\n"
	"}\n"
	"\n"
	"# __msb_names MSB KIND: the names of sandboxes, images or volumes.\n"
	"__msb_names() {\n"
	"\tcase $2 in\n"
	"\tsandbox) \"$1\" ls -q 2>/dev/null ;;\n"
	"\timage) \"$1\" image ls -q 2>/dev/null ;;\n"
	"\tvolume) \"$1\" volume ls 2>/dev/null | sed '1d; s/ .*//' ;;\n"
	"\tesac\n"
	"}\n"
	"\n"
	"# __msb_offer MSB KIND CUR: add what a value or an argument of KIND can\n"
	"# be (see the table in msb's src/cli/cmd_completion.c) to __msb_words.\n"
	"__msb_offer() {\n"
	"\tlocal n\n"
	"\tcase $2 in\n"
	"\tsandbox | volume) __msb_words=\"$__msb_words $(__msb_names \"$1\" \"$2\")\" ;;\n"
	"\timage | '<image>')\n"
	"\t\t__msb_words=\"$__msb_words $(__msb_names \"$1\" image)\"\n"
	"\t\tcase $3 in /* | .*) __msb_kind=files ;; esac ;;\n"
	"\tcp | volcp | '<volume:>')\n"
	"\t\tn=sandbox\n"
	"\t\t[ \"$2\" = cp ] || n=volume\n"
	"\t\tfor n in $(__msb_names \"$1\" \"$n\"); do\n"
	"\t\t\t__msb_words=\"$__msb_words $n:\"\n"
	"\t\tdone\n"
	"\t\t__msb_kind=files\n"
	"\t\t[ \"$2\" = '<volume:>' ] && __msb_kind=dirs ;;\n"
	"\tcommand) __msb_words=\"$__msb_words $__msb_cmds\" ;;\n"
	"\tshells) __msb_words=\"$__msb_words bash zsh\" ;;\n"
	"\t'<file>') __msb_kind=files ;;\n"
	"\t'<dir>') __msb_kind=dirs ;;\n"
	"\t*'|'*)\n"
	"\t\tn=$2\n"
	"\t\twhile [ -n \"$n\" ]; do\n"
	"\t\t\t__msb_words=\"$__msb_words ${n%%|*}\"\n"
	"\t\t\tcase $n in *'|'*) n=${n#*|} ;; *) n='' ;; esac\n"
	"\t\tdone ;;\n"
	"\tesac\n"
	"}\n"
	"\n"
	"# __msb_complete CWORD WORD...: what to offer for word CWORD of the words\n"
	"# typed (word 0 is msb itself), with msb's option rule. Sets __msb_words\n"
	"# (the words to offer) and __msb_kind (files or dirs: host paths too).\n"
	"__msb_complete() {\n"
	"\tlocal cword=$1 msb=$2 i=0 w key='' sub='' npos=0 first=''\n"
	"\tlocal val='' run='' dd='' cur=''\n"
	"\tshift\n"
	"\t__msb_kind=words\n"
	"\t__msb_words=''\n"
	"\t__msb_a=none\n"
	"\t__msb_n=-1\n"
	"\t__msb_m=0\n"
	"\tfor w in \"$@\"; do\n"
	"\t\tif [ \"$i\" -eq \"$cword\" ]; then\n"
	"\t\t\tcur=$w\n"
	"\t\t\tbreak\n"
	"\t\tfi\n"
	"\t\ti=$((i + 1))\n"
	"\t\t[ \"$i\" -eq 1 ] && continue\n"
	"\t\t[ -n \"$run\" ] && continue\n"
	"\t\tif [ -n \"$val\" ]; then\n"
	"\t\t\tval=''\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\tif [ -z \"$dd\" ]; then\n"
	"\t\t\tcase $w in\n"
	"\t\t\t--)\n"
	"\t\t\t\t[ -z \"$key\" ] && continue\n"
	"\t\t\t\tdd=1\n"
	"\t\t\t\tif [ \"$__msb_n\" -ge 0 ] && [ \"$npos\" -ge \"$__msb_m\" ]; then\n"
	"\t\t\t\t\trun=1\n"
	"\t\t\t\tfi\n"
	"\t\t\t\tcontinue ;;\n"
	"\t\t\t-?*)\n"
	"\t\t\t\tif [ -n \"$key\" ] && __msb_takes \"$key\" \"$w\"; then\n"
	"\t\t\t\t\tval=$__msb_o\n"
	"\t\t\t\tfi\n"
	"\t\t\t\tcontinue ;;\n"
	"\t\t\tesac\n"
	"\t\tfi\n"
	"\t\tif [ -z \"$key\" ]; then\n"
	"\t\t\tkey=$w\n"
	"\t\t\t__msb_subs \"$key\"\n"
	"\t\t\t[ -n \"$__msb_r\" ] && sub=1\n"
	"\t\t\t__msb_args \"$key\"\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\tif [ -n \"$sub\" ]; then\n"
	"\t\t\tkey=\"$key $w\"\n"
	"\t\t\tsub=''\n"
	"\t\t\t__msb_args \"$key\"\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\tnpos=$((npos + 1))\n"
	"\t\t[ \"$npos\" -eq 1 ] && first=$w\n"
	"\t\tif [ \"$__msb_n\" -ge 0 ]; then\n"
	"\t\t\tif [ \"$npos\" -gt \"$__msb_n\" ] ||\n"
	"\t\t\t\t{ [ -n \"$dd\" ] && [ \"$npos\" -ge \"$__msb_m\" ]; }; then\n"
	"\t\t\t\trun=1\n"
	"\t\t\tfi\n"
	"\t\tfi\n"
	"\tdone\n"
	"\t# inside the command line of run, exec...: host paths\n"
	"\tif [ -n \"$run\" ]; then\n"
	"\t\t__msb_kind=files\n"
	"\t\treturn\n"
	"\tfi\n"
	"\t# an option's value\n"
	"\tif [ -n \"$val\" ]; then\n"
	"\t\t__msb_vals \"$key\" \"$val\"\n"
	"\t\t__msb_offer \"$msb\" \"$__msb_r\" \"$cur\"\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [ -z \"$key\" ]; then\n"
	"\t\tcase $cur in\n"
	"\t\t-*) __msb_words='--help --version' ;;\n"
	"\t\t*) __msb_words=$__msb_cmds ;;\n"
	"\t\tesac\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [ -z \"$dd\" ]; then\n"
	"\t\tcase $cur in\n"
	"\t\t--*=*)\n"
	"\t\t\tlocal opt=${cur%%=*} v list\n"
	"\t\t\t__msb_vals \"$key\" \"$opt\"\n"
	"\t\t\t__msb_offer \"$msb\" \"$__msb_r\" \"${cur#*=}\"\n"
	"\t\t\tlist=$__msb_words\n"
	"\t\t\t__msb_words=''\n"
	"\t\t\tfor v in $list; do\n"
	"\t\t\t\t__msb_words=\"$__msb_words $opt=$v\"\n"
	"\t\t\tdone\n"
	"\t\t\treturn ;;\n"
	"\t\t-*)\n"
	"\t\t\t__msb_opts \"$key\"\n"
	"\t\t\tfor w in $__msb_r; do\n"
	"\t\t\t\t__msb_words=\"$__msb_words ${w%=}\"\n"
	"\t\t\tdone\n"
	"\t\t\treturn ;;\n"
	"\t\tesac\n"
	"\tfi\n"
	"\tif [ -n \"$sub\" ]; then\n"
	"\t\t__msb_subs \"$key\"\n"
	"\t\t__msb_words=$__msb_r\n"
	"\t\treturn\n"
	"\tfi\n"
	"\t# the first word of a command line: host paths\n"
	"\tif [ \"$__msb_n\" -ge 0 ] && [ \"$npos\" -ge \"$__msb_n\" ]; then\n"
	"\t\t__msb_kind=files\n"
	"\t\treturn\n"
	"\tfi\n"
	"\t# msb help COMMAND [SUBCOMMAND]\n"
	"\tif [ \"$key\" = help ] && [ \"$npos\" -ge 1 ]; then\n"
	"\t\t__msb_r=''\n"
	"\t\t[ \"$npos\" -eq 1 ] && __msb_subs \"$first\"\n"
	"\t\t__msb_words=$__msb_r\n"
	"\t\treturn\n"
	"\tfi\n"
	"\t__msb_offer \"$msb\" \"$__msb_a\" \"$cur\"\n"
	"}\n";

/* bash: the words typed (as the shell splits them) in, COMPREPLY out. */
static const char bash_glue[] =
	"_msb() {\n"
	"\tlocal -a w\n"
	"\tlocal cur line pre='' brk=''\n"
	"\tif [[ -n ${COMP_LINE-} ]]; then\n"
	"\t\t# the words as the shell will split them (COMP_WORDS is also cut\n"
	"\t\t# at : and =, as in NAME:/path and --pull=never)\n"
	"\t\tline=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}\n"
	"\t\tread -ra w <<<\"$line\"\n"
	"\t\t[[ ${#w[@]} -eq 0 || $line == *[[:space:]] ]] && w+=('')\n"
	"\t\t[[ ${COMP_WORDBREAKS-} == *:* ]] && brk+=:\n"
	"\t\t[[ ${COMP_WORDBREAKS-} == *=* ]] && brk+==\n"
	"\t\tcur=${w[${#w[@]}-1]}\n"
	"\t\t# bash replaces only what follows the last of those\n"
	"\t\t[[ -n $brk && $cur == *[\"$brk\"]* ]] && pre=${cur%\"${cur##*[\"$brk\"]}\"}\n"
	"\telse\n"
	"\t\tw=(\"${COMP_WORDS[@]:0:COMP_CWORD+1}\")\n"
	"\tfi\n"
	"\tcur=${w[${#w[@]}-1]}\n"
	"\t__msb_complete $((${#w[@]} - 1)) \"${w[@]}\"\n"
	"\tlocal IFS=$' \\t\\n'\n"
	"\tCOMPREPLY=($(compgen -W \"$__msb_words\" -- \"$cur\"))\n"
	"\t# host paths; after --opt=, the value's\n"
	"\tcase $__msb_kind in\n"
	"\tfiles) COMPREPLY+=($(compgen -f -- \"${cur#--*=}\")) ;;\n"
	"\tdirs) COMPREPLY+=($(compgen -d -- \"${cur#--*=}\")) ;;\n"
	"\tesac\n"
	"\t[[ $__msb_kind == words ]] || compopt -o filenames 2>/dev/null\n"
	"\t[[ -n $pre ]] && COMPREPLY=(\"${COMPREPLY[@]#\"$pre\"}\")\n"
	"\t# NAME: and --opt= go on without a space\n"
	"\tif [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[:=] ]]; then\n"
	"\t\tcompopt -o nospace 2>/dev/null\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"\n"
	"complete -F _msb msb\n";

/* zsh: words and CURRENT in, compadd and _files out. Autoloaded from
 * $fpath the file is the body of _msb; sourced, it registers _msb. */
static const char zsh_glue[] = "__msb_ksh() {\n"
			       "\temulate -L ksh\n"
			       "\t__msb_complete \"$@\"\n"
			       "}\n"
			       "\n"
			       "_msb() {\n"
			       "\tlocal -a ws\n"
			       "\t__msb_ksh $((CURRENT - 1)) \"${words[@]}\"\n"
			       "\tws=(${=__msb_words})\n"
			       "\t(( ${#ws} )) && compadd -- \"${ws[@]}\"\n"
			       "\tcase $__msb_kind in\n"
			       "\tfiles) _files ;;\n"
			       "\tdirs) _files -/ ;;\n"
			       "\tesac\n"
			       "\treturn 0\n"
			       "}\n"
			       "\n"
			       "if [ \"$funcstack[1]\" = \"_msb\" ]; then\n"
			       "\t_msb \"$@\"\n"
			       "else\n"
			       "\tcompdef _msb msb\n"
			       "fi\n";

/* Print the words of @opts up to each "=" (keeping it): the option
 * names, value-taking ones marked. */
static void print_names(const char *opts)
{
	const char *p = opts;
	bool first = true;

	while (*p) {
		size_t n = strcspn(p, " ");
		size_t eq = strcspn(p, "= ");
		if (n) {
			printf("%s%.*s", first ? "" : " ",
			       (int)(eq < n ? eq + 1 : n), p);
			first = false;
		}
		p += n;
		p += strspn(p, " ");
	}
}

static void print_data(void)
{
	size_t n = sizeof(comp_cmds) / sizeof(*comp_cmds);

	/* the commands */
	printf("__msb_cmds='");
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (strchr(comp_cmds[i].key, ' '))
			continue;
		printf("%s%s", first ? "" : " ", comp_cmds[i].key);
		first = false;
	}
	printf("'\n\n");

	/* __msb_subs CMD: its subcommands */
	printf("# __msb_subs CMD: the subcommands of CMD, in __msb_r.\n"
	       "__msb_subs() {\n\tcase $1 in\n");
	for (size_t i = 0; i < n; i++) {
		const char *k = comp_cmds[i].key;
		size_t len = strlen(k);
		bool any = false;
		if (strchr(k, ' '))
			continue;
		for (size_t j = 0; j < n; j++) {
			const char *s = comp_cmds[j].key;
			if (strncmp(s, k, len) || s[len] != ' ')
				continue;
			if (!any)
				printf("\t'%s') __msb_r='%s", k, s + len + 1);
			else
				printf(" %s", s + len + 1);
			any = true;
		}
		if (any)
			printf("' ;;\n");
	}
	printf("\t*) __msb_r='' ;;\n\tesac\n}\n\n");

	/* __msb_opts KEY: options */
	printf("# __msb_opts KEY: the options of KEY (\"run\", \"image ls\") in\n"
	       "# __msb_r; \"=\" marks one that takes a value.\n"
	       "__msb_opts() {\n\tcase $1 in\n");
	for (size_t i = 0; i < n; i++) {
		printf("\t'%s') __msb_r='", comp_cmds[i].key);
		print_names(comp_cmds[i].opts);
		printf("' ;;\n");
	}
	printf("\t*) __msb_r='' ;;\n\tesac\n}\n\n");

	/* __msb_vals KEY OPT: what OPT's value can be */
	printf("# __msb_vals KEY OPT: what the value of option OPT of KEY can\n"
	       "# be, in __msb_r.\n"
	       "__msb_vals() {\n\tcase \"$1 $2\" in\n");
	for (size_t i = 0; i < n; i++) {
		const char *p = comp_cmds[i].opts;
		while (*p) {
			size_t len = strcspn(p, " ");
			size_t eq = strcspn(p, "= ");
			if (eq < len && eq + 1 < len)
				printf("\t'%s %.*s') __msb_r='%.*s' ;;\n",
				       comp_cmds[i].key, (int)eq, p,
				       (int)(len - eq - 1), p + eq + 1);
			p += len;
			p += strspn(p, " ");
		}
	}
	printf("\t*) __msb_r='' ;;\n\tesac\n}\n\n");

	/* __msb_args KEY: the arguments */
	printf("# __msb_args KEY: what the arguments of KEY are (__msb_a), and\n"
	       "# for a command taking a command line, how many come before it\n"
	       "# (__msb_n, else -1) and how many are needed (__msb_m).\n"
	       "__msb_args() {\n\t__msb_n=-1\n\t__msb_m=0\n\tcase $1 in\n");
	for (size_t i = 0; i < n; i++) {
		printf("\t'%s') __msb_a=%s", comp_cmds[i].key,
		       comp_cmds[i].args);
		if (comp_cmds[i].before >= 0)
			printf(" __msb_n=%d __msb_m=%d", comp_cmds[i].before,
			       comp_cmds[i].need);
		printf(" ;;\n");
	}
	printf("\t*) __msb_a=none ;;\n\tesac\n}\n\n");
}

bool cli_command_known(const char *cmd, const char *sub)
{
	size_t len = strlen(cmd);

	for (size_t i = 0; i < sizeof(comp_cmds) / sizeof(*comp_cmds); i++) {
		const char *k = comp_cmds[i].key;
		if (strncmp(k, cmd, len))
			continue;
		if (!sub ? !k[len] : k[len] == ' ' && !strcmp(k + len + 1, sub))
			return true;
	}
	return false;
}

int cmd_completion(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "completion",
		.usage = completion_usage,
		.synopsis = "bash or zsh",
		.shortopts = "h",
		.min_pos = 1,
		.max_pos = 1,
	};
	int st = cli_args_only(&a, argc, argv);
	if (st >= 0)
		return st;
	bool zsh = !strcmp(a.pos[0], "zsh");
	if (!zsh && strcmp(a.pos[0], "bash")) {
		cli_usage_error(&a, "unknown shell `%s`: bash or zsh",
				a.pos[0]);
		return 2;
	}
	if (zsh)
		printf("#compdef msb\n");
	printf("# %s completion for msb %s, generated by `msb completion "
	       "%s`.\n",
	       zsh ? "zsh" : "bash", msb_version(), zsh ? "zsh" : "bash");
	if (zsh)
		printf("# Save it as _msb in a directory of $fpath, or run "
		       "(after compinit):\n#   source <(msb completion zsh)\n");
	else
		printf("# Run `source <(msb completion bash)` (in ~/.bashrc), "
		       "or save it as\n# /etc/bash_completion.d/msb.\n");
	printf("\n");
	print_data();
	fputs(core, stdout);
	putchar('\n');
	fputs(zsh ? zsh_glue : bash_glue, stdout);
	return fflush(stdout) ? 1 : 0;
}
