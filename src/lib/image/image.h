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
 * msb__image_find_id() - the stored image that @id names by ID, as docker
 * names images: "sha256:" and 64 hex digits (its ID, which is its config
 * digest, or its manifest digest), 64 hex digits (its ID), or a prefix of
 * its ID in lowercase hex that no other stored image's ID has.
 * @refs: receives the references it is stored under, sorted,
 *        NULL-terminated (msb_strv_free()); never empty on success
 * @platform: receives the platform it is stored under ("" if unknown),
 *        malloc'd
 * @full: receives its full ID ("sha256:..."), malloc'd; may be NULL
 * Return: 0; 1 if @id is not one of these forms (nothing set);
 * -MSB_ENOTFOUND if no stored image has it; -MSB_EINVAL for a prefix
 * that several images' IDs share (the error names them) or "sha256:"
 * without 64 hex digits.
 */
int msb__image_find_id(const char *home, const char *id, char ***refs,
		       char **platform, char **full);

/*
 * msb__image_full_id() - the full ID ("sha256:...", malloc'd) of the
 * stored image that the ID prefix @image names, or NULL when @image is
 * anything else (a reference, a stored reference of that name, a full ID,
 * a prefix of no image or of several). Errors are not kept.
 */
char *msb__image_full_id(const char *home, const char *image);

/* The short form of an ID or digest: its first 12 hex digits, in @out
 * (at least 13 bytes). */
void msb__image_short_id(const char *digest, char *out, size_t len);

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
