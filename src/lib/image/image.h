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
	char *rootfs;   /* the flattened ext4 root disk */
	char *platform; /* "os/arch[/variant]" it is stored under, or "" */
};

/*
 * msb__image_platform() - the platform of @img: its config's os and
 * architecture (and variant), else its stored platform. 0, or -MSB_ENOTFOUND
 * if neither says.
 */
int msb__image_platform(const msb_image *img, struct msb_platform *out);

/*
 * msb__image_db_lookup() - the database row of @reference for platform
 * @want (NULL: any): fills @img's digest, config_digest, size and platform.
 * An exact platform first, then one that matches (msb_platform_match()),
 * then a row recorded before platforms (""). Return 0, or -MSB_ENOTFOUND;
 * then @others (if not NULL) lists the platforms stored for @reference,
 * comma-separated ("" if none).
 */
int msb__image_db_lookup(const char *home, const char *reference,
			 const struct msb_platform *want, msb_image *img,
			 char *others, size_t otherslen);

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
