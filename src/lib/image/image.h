/* SPDX-License-Identifier: Apache-2.0 */
/* Images inside the library: the msb_image object and resolution. */
#ifndef MSB_IMAGE_IMAGE_H
#define MSB_IMAGE_IMAGE_H

#include "lib/image/oci.h"
#include "lib/internal.h"

/* The built-in default image's reference in the store. */
#define MSB_DEFAULT_IMAGE "msb.local/default:latest"

struct msb_image {
	char *reference; /* canonical */
	char *digest;    /* manifest */
	char *config_digest;
	uint64_t size; /* sum of layer blob sizes */
	struct msb_image_config cfg;
	char *rootfs; /* the flattened ext4 root disk */
};

/*
 * msb__image_resolve() - the image for @reference under @home, pulled or
 * taken from the store as @opts (NULL: defaults) says.
 */
int msb__image_resolve(msb_image **out, const char *home, const char *reference,
		       const msb_pull_options *opts);

/* The built-in default image, imported from the OCI layout @layout on
 * first use. */
int msb__image_default(msb_image **out, const char *home, const char *layout);

void msb__image_free(msb_image *img);

#endif
