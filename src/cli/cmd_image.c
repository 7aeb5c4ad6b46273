// SPDX-License-Identifier: Apache-2.0
/* msb image ls|inspect|rm|prune: the images in the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char image_usage[] =
	"Usage: msb image COMMAND\n"
	"\n"
	"Commands:\n"
	"  ls               list stored images (reference, platform, digest, size, created)\n"
	"  inspect IMAGE    print a stored image as JSON\n"
	"  rm IMAGE...      forget images (refused while a sandbox uses one)\n"
	"  prune            delete blobs and root disks no image uses\n";

static int image_ls(void)
{
	msb_image **list;
	size_t n;

	if (msb_image_list(&list, &n) < 0)
		return cli_fail(1);
	printf("%-48s %-13s %-19s %-10s %s\n", "REFERENCE", "PLATFORM",
	       "DIGEST", "SIZE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		char size[32];
		const char *d = msb_image_digest(list[i]);
		const char *created = msb_image_created(list[i]);
		cli_human_size(size, sizeof(size),
			       (double)msb_image_size(list[i]));
		const char *pf = msb_image_platform(list[i]);
		printf("%-48s %-13s %-19.19s %-10s %.19s\n",
		       msb_image_reference(list[i]), pf && *pf ? pf : "-",
		       d ? d : "-", size, created ? created : "-");
	}
	msb_image_list_free(list, n);
	return 0;
}

static int image_inspect(int argc, char **argv)
{
	int status = 0;

	for (int i = 0; i < argc; i++) {
		msb_image *img;
		if (msb_image_get(&img, argv[i]) < 0) {
			status = cli_fail(1);
			continue;
		}
		char *json = msb_image_inspect_json(img);
		printf("%s\n", json ? json : "{}");
		free(json);
		msb_image_free(img);
	}
	return status;
}

static int image_rm(int argc, char **argv)
{
	int status = 0;

	for (int i = 0; i < argc; i++) {
		if (msb_image_remove(argv[i]) < 0)
			status = cli_fail(1);
		else
			printf("removed %s\n", argv[i]);
	}
	return status;
}

static int image_prune(void)
{
	uint64_t freed = 0;
	char size[32];

	if (msb_image_prune(&freed) < 0)
		return cli_fail(1);
	cli_human_size(size, sizeof(size), (double)freed);
	printf("freed %s\n", size);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(image_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return image_ls();
	if (!strcmp(sub, "prune"))
		return image_prune();
	if (argc < 3) {
		cli_err("msb image %s needs an image", sub);
		return 2;
	}
	if (!strcmp(sub, "inspect"))
		return image_inspect(argc - 2, argv + 2);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return image_rm(argc - 2, argv + 2);
	cli_err("unknown command `image %s`: see 'msb image --help'", sub);
	return 2;
}
