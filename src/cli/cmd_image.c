// SPDX-License-Identifier: Apache-2.0
/* msb image ls|inspect|rm|prune (and msb images): the images in the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

static const char image_usage[] =
	"Usage: msb image COMMAND\n"
	"\n"
	"Commands:\n"
	"  ls [-q] [--json]   list stored images (msb images)\n"
	"  inspect IMAGE...   print stored images as a JSON array\n"
	"  rm IMAGE...        forget images (refused while a sandbox uses one)\n"
	"  prune              delete blobs and root disks no image uses\n"
	"\n"
	"IMAGE is a reference, or an image ID: a prefix of the ID that\n"
	"`msb image ls` shows (any length, unique; a stored reference of the\n"
	"same name wins), the full ID, or a digest (sha256:...).\n"
	"Run 'msb image COMMAND --help' for a command's options.\n";

static const char ls_usage_body[] =
	"\n"
	"List stored images: reference, platform, image ID (the first 12 hex\n"
	"digits of the config digest, as docker shows it), manifest digest,\n"
	"size and creation time. A reference stored for several platforms\n"
	"has one line per platform.\n"
	"\n"
	"  -q, --quiet      image IDs only, each image once\n"
	"      --json, --format json  as a JSON array (full IDs)\n";

static const char ls_usage[] =
	"Usage: msb image ls [-q] [--json | --format json]\n"
	"       msb images [-q] [--json | --format json]\n";
static const char images_usage[] =
	"Usage: msb images [-q] [--json | --format json]\n"
	"       msb image ls [-q] [--json | --format json]\n";

/* The ID of @img as shown ("-" if unknown), in @out. */
static void short_id(const msb_image *img, char *out, size_t len)
{
	const char *id = msb_image_id(img);
	const char *hex = id ? strchr(id, ':') : NULL;

	snprintf(out, len, "%.12s", hex ? hex + 1 : "-");
}

static void ls_json(msb_image **list, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		const char *pf = msb_image_platform(list[i]);
		fputs(i ? ",\n {\"id\": " : "{\"id\": ", stdout);
		cli_json_str(msb_image_id(list[i]));
		fputs(", \"reference\": ", stdout);
		cli_json_str(msb_image_reference(list[i]));
		fputs(", \"platform\": ", stdout);
		cli_json_str(pf && *pf ? pf : NULL);
		fputs(", \"digest\": ", stdout);
		cli_json_str(msb_image_digest(list[i]));
		printf(", \"size\": %llu, \"created\": ",
		       (unsigned long long)msb_image_size(list[i]));
		cli_json_str(msb_image_created(list[i]));
		putchar('}');
	}
	puts("]");
}

static int image_ls(int argc, char **argv, const char *cmd)
{
	char usage[1024];
	struct cli_args a = {
		.cmd = cmd,
		.usage = usage,
		.synopsis = "no arguments",
		.shortopts = "q",
		.longopts = cli_list_longopts,
		.min_pos = 0,
		.max_pos = 0,
	};
	bool quiet = false, json = false;
	msb_image **list;
	size_t n;

	snprintf(usage, sizeof(usage), "%s%s",
		 strcmp(cmd, "images") ? ls_usage : images_usage,
		 ls_usage_body);
	int st = cli_args_list(&a, argc, argv, &quiet, &json);
	if (st >= 0)
		return st;
	if (msb_image_list(&list, &n) < 0)
		return cli_fail(1);
	if (json) {
		ls_json(list, n);
	} else if (quiet) {
		for (size_t i = 0; i < n; i++) {
			const char *id = msb_image_id(list[i]);
			size_t k;
			/* each image once: an earlier line may have it */
			for (k = 0; id && k < i; k++)
				if (msb_image_id(list[k]) &&
				    !strcmp(msb_image_id(list[k]), id))
					break;
			if (id && k == i) {
				char sid[16];
				short_id(list[i], sid, sizeof(sid));
				printf("%s\n", sid);
			}
		}
	} else {
		printf("%-48s %-13s %-12s %-19s %-10s %s\n", "REFERENCE",
		       "PLATFORM", "IMAGE ID", "DIGEST", "SIZE", "CREATED");
		for (size_t i = 0; i < n; i++) {
			char size[32], sid[16], created[80] = "-";
			const char *d = msb_image_digest(list[i]);
			const char *cr = msb_image_created(list[i]);
			const char *pf = msb_image_platform(list[i]);
			cli_human_size(size, sizeof(size),
				       (double)msb_image_size(list[i]));
			short_id(list[i], sid, sizeof(sid));
			/* the image's config says: escaped */
			if (cr)
				msb_escape(created, sizeof(created), cr,
					   strnlen(cr, 19));
			printf("%-48s %-13s %-12s %-19.19s %-10s %s\n",
			       msb_image_reference(list[i]),
			       pf && *pf ? pf : "-", sid, d ? d : "-", size,
			       created);
		}
	}
	msb_image_list_free(list, n);
	return 0;
}

/* Parse a subcommand that takes only images (@min_pos of them at least,
 * @max_pos at most, -1: any); 0 to go on, else the exit status + 1. */
static int plain_args(struct cli_args *a, int argc, char **argv)
{
	int c;

	cli_args_init(a, argc, argv);
	while ((c = cli_args_next(a)) >= 0)
		;
	return c == CLI_ARGS_HELP ? 1 : c == CLI_ARGS_ERROR ? 3 : 0;
}

static int image_inspect(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "image inspect",
		.usage = "Usage: msb image inspect IMAGE...\n\n"
			 "Print stored images as one JSON array: reference, "
			 "ID, digests, platform,\nsize, env, entrypoint, cmd, "
			 "workdir, user and root disk. IMAGE is a\nreference "
			 "or an image ID (see 'msb image --help'). An IMAGE "
			 "that is not\nstored gets an error line; the others "
			 "are printed (exit 1).\n",
		.synopsis = "IMAGE...",
		.min_pos = 1,
		.max_pos = -1,
	};
	int status = 0, printed = 0;
	int r = plain_args(&a, argc, argv);

	if (r)
		return r - 1;
	putchar('[');
	for (int i = 0; i < a.npos; i++) {
		msb_image *img;
		if (msb_image_get(&img, a.pos[i]) < 0) {
			fflush(stdout);
			status = cli_fail(1);
			continue;
		}
		char *json = msb_image_inspect_json(img);
		printf("%s%s", printed++ ? ",\n" : "", json ? json : "{}");
		free(json);
		msb_image_free(img);
	}
	puts("]");
	return status;
}

static int image_rm(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "image rm",
		.usage = "Usage: msb image rm IMAGE...\n\n"
			 "Forget images: a reference (every platform stored "
			 "under it), or the\none image an ID names (see 'msb "
			 "image --help'). Their blobs and root\ndisk go unless "
			 "another image uses them. Refused while a sandbox "
			 "uses\nthe image, and for an ID stored under several "
			 "references.\n",
		.synopsis = "IMAGE...",
		.min_pos = 1,
		.max_pos = -1,
	};
	int status = 0;
	int r = plain_args(&a, argc, argv);

	if (r)
		return r - 1;
	for (int i = 0; i < a.npos; i++) {
		if (msb_image_remove(a.pos[i]) < 0)
			status = cli_fail(1);
		else
			printf("removed %s\n", a.pos[i]);
	}
	return status;
}

static int image_prune(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "image prune",
		.usage = "Usage: msb image prune\n\nDelete blobs and root "
			 "disks that no stored image uses; print the space "
			 "freed.\n",
		.synopsis = "no arguments",
		.min_pos = 0,
		.max_pos = 0,
	};
	uint64_t freed = 0;
	char size[32];
	int r = plain_args(&a, argc, argv);

	if (r)
		return r - 1;
	if (msb_image_prune(&freed) < 0)
		return cli_fail(1);
	cli_human_size(size, sizeof(size), (double)freed);
	printf("freed %s\n", size);
	return 0;
}

int cmd_images(int argc, char **argv)
{
	return image_ls(argc, argv, "images");
}

int cmd_image(int argc, char **argv)
{
	struct cli_args a = {.cmd = "image"};
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub && (!strcmp(sub, "-h") || !strcmp(sub, "--help") ||
		    !strcmp(sub, "help"))) {
		fputs(image_usage, stdout);
		return 0;
	}
	if (!sub) {
		cli_usage_error(&a, "expected a command (ls, inspect, rm, "
				    "prune)");
		return 2;
	}
	if (sub[0] == '-') {
		cli_usage_error(&a, "unknown option `%s`", sub);
		return 2;
	}
	/* The subcommand parses the rest; argv[1] is its argv[0]. */
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return image_ls(argc - 1, argv + 1, "image ls");
	if (!strcmp(sub, "inspect"))
		return image_inspect(argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return image_rm(argc - 1, argv + 1);
	if (!strcmp(sub, "prune"))
		return image_prune(argc - 1, argv + 1);
	cli_usage_error(&a, "unknown command `%s`", sub);
	return 2;
}
