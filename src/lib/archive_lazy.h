/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libarchive, loaded when first used rather than linked: with the ten
 * libraries it needs (libxml2, ICU, libstdc++, the compressors...) it
 * would be loaded and relocated by every program that links the library,
 * e.g. on each `msb exec` (docs/benchmarks.md).
 *
 * Include this instead of <archive.h> and <archive_entry.h>: the calls
 * then go through msb_la, which msb_libarchive_load() fills. Call that
 * first (it says why it failed); the constructors load it too, and
 * return NULL if they cannot.
 */
#ifndef MSB_LIB_ARCHIVE_LAZY_H
#define MSB_LIB_ARCHIVE_LAZY_H

#include <archive.h>
#include <archive_entry.h>

/* every libarchive function the library calls */
#define MSB_LA_FUNCS                                                           \
	X(archive_entry_filetype)                                              \
	X(archive_entry_free)                                                  \
	X(archive_entry_gid)                                                   \
	X(archive_entry_hardlink)                                              \
	X(archive_entry_hardlink_utf8)                                         \
	X(archive_entry_mtime)                                                 \
	X(archive_entry_mtime_is_set)                                          \
	X(archive_entry_mtime_nsec)                                            \
	X(archive_entry_new)                                                   \
	X(archive_entry_pathname)                                              \
	X(archive_entry_pathname_utf8)                                         \
	X(archive_entry_perm)                                                  \
	X(archive_entry_rdevmajor)                                             \
	X(archive_entry_rdevminor)                                             \
	X(archive_entry_set_filetype)                                          \
	X(archive_entry_set_gid)                                               \
	X(archive_entry_set_mode)                                              \
	X(archive_entry_set_mtime)                                             \
	X(archive_entry_set_pathname)                                          \
	X(archive_entry_set_perm)                                              \
	X(archive_entry_set_size)                                              \
	X(archive_entry_set_symlink)                                           \
	X(archive_entry_set_uid)                                               \
	X(archive_entry_size)                                                  \
	X(archive_entry_size_is_set)                                           \
	X(archive_entry_symlink)                                               \
	X(archive_entry_symlink_utf8)                                          \
	X(archive_entry_uid)                                                   \
	X(archive_entry_xattr_next)                                            \
	X(archive_entry_xattr_reset)                                           \
	X(archive_errno)                                                       \
	X(archive_error_string)                                                \
	X(archive_read_data)                                                   \
	X(archive_read_data_block)                                             \
	X(archive_read_data_skip)                                              \
	X(archive_read_free)                                                   \
	X(archive_read_new)                                                    \
	X(archive_read_next_header)                                            \
	X(archive_read_open_fd)                                                \
	X(archive_read_open_memory)                                            \
	X(archive_read_support_filter_all)                                     \
	X(archive_read_support_filter_gzip)                                    \
	X(archive_read_support_filter_none)                                    \
	X(archive_read_support_filter_zstd)                                    \
	X(archive_read_support_format_empty)                                   \
	X(archive_read_support_format_gnutar)                                  \
	X(archive_read_support_format_tar)                                     \
	X(archive_write_close)                                                 \
	X(archive_write_data)                                                  \
	X(archive_write_free)                                                  \
	X(archive_write_header)                                                \
	X(archive_write_new)                                                   \
	X(archive_write_open_fd)                                               \
	X(archive_write_set_bytes_per_block)                                   \
	X(archive_write_set_format_pax_restricted)

struct msb_libarchive {
#define X(f) __typeof__(f) *p_##f;
	MSB_LA_FUNCS
#undef X
};
extern struct msb_libarchive msb_la;

/*
 * msb_libarchive_load() - load libarchive and fill msb_la, once (thread
 * safe); it stays loaded.
 * Return: 0, or -1 with the library's error set (MSB_ESYS)
 */
int msb_libarchive_load(void);

#define archive_entry_filetype (*msb_la.p_archive_entry_filetype)
#define archive_entry_free (*msb_la.p_archive_entry_free)
#define archive_entry_gid (*msb_la.p_archive_entry_gid)
#define archive_entry_hardlink (*msb_la.p_archive_entry_hardlink)
#define archive_entry_hardlink_utf8 (*msb_la.p_archive_entry_hardlink_utf8)
#define archive_entry_mtime (*msb_la.p_archive_entry_mtime)
#define archive_entry_mtime_is_set (*msb_la.p_archive_entry_mtime_is_set)
#define archive_entry_mtime_nsec (*msb_la.p_archive_entry_mtime_nsec)
#define archive_entry_pathname (*msb_la.p_archive_entry_pathname)
#define archive_entry_pathname_utf8 (*msb_la.p_archive_entry_pathname_utf8)
#define archive_entry_perm (*msb_la.p_archive_entry_perm)
#define archive_entry_rdevmajor (*msb_la.p_archive_entry_rdevmajor)
#define archive_entry_rdevminor (*msb_la.p_archive_entry_rdevminor)
#define archive_entry_set_filetype (*msb_la.p_archive_entry_set_filetype)
#define archive_entry_set_gid (*msb_la.p_archive_entry_set_gid)
#define archive_entry_set_mode (*msb_la.p_archive_entry_set_mode)
#define archive_entry_set_mtime (*msb_la.p_archive_entry_set_mtime)
#define archive_entry_set_pathname (*msb_la.p_archive_entry_set_pathname)
#define archive_entry_set_perm (*msb_la.p_archive_entry_set_perm)
#define archive_entry_set_size (*msb_la.p_archive_entry_set_size)
#define archive_entry_set_symlink (*msb_la.p_archive_entry_set_symlink)
#define archive_entry_set_uid (*msb_la.p_archive_entry_set_uid)
#define archive_entry_size (*msb_la.p_archive_entry_size)
#define archive_entry_size_is_set (*msb_la.p_archive_entry_size_is_set)
#define archive_entry_symlink (*msb_la.p_archive_entry_symlink)
#define archive_entry_symlink_utf8 (*msb_la.p_archive_entry_symlink_utf8)
#define archive_entry_uid (*msb_la.p_archive_entry_uid)
#define archive_entry_xattr_next (*msb_la.p_archive_entry_xattr_next)
#define archive_entry_xattr_reset (*msb_la.p_archive_entry_xattr_reset)
#define archive_errno (*msb_la.p_archive_errno)
#define archive_error_string (*msb_la.p_archive_error_string)
#define archive_read_data (*msb_la.p_archive_read_data)
#define archive_read_data_block (*msb_la.p_archive_read_data_block)
#define archive_read_data_skip (*msb_la.p_archive_read_data_skip)
#define archive_read_free (*msb_la.p_archive_read_free)
#define archive_read_next_header (*msb_la.p_archive_read_next_header)
#define archive_read_open_fd (*msb_la.p_archive_read_open_fd)
#define archive_read_open_memory (*msb_la.p_archive_read_open_memory)
#define archive_read_support_filter_all                                        \
	(*msb_la.p_archive_read_support_filter_all)
#define archive_read_support_filter_gzip                                       \
	(*msb_la.p_archive_read_support_filter_gzip)
#define archive_read_support_filter_none                                       \
	(*msb_la.p_archive_read_support_filter_none)
#define archive_read_support_filter_zstd                                       \
	(*msb_la.p_archive_read_support_filter_zstd)
#define archive_read_support_format_empty                                      \
	(*msb_la.p_archive_read_support_format_empty)
#define archive_read_support_format_gnutar                                     \
	(*msb_la.p_archive_read_support_format_gnutar)
#define archive_read_support_format_tar                                        \
	(*msb_la.p_archive_read_support_format_tar)
#define archive_write_close (*msb_la.p_archive_write_close)
#define archive_write_data (*msb_la.p_archive_write_data)
#define archive_write_free (*msb_la.p_archive_write_free)
#define archive_write_header (*msb_la.p_archive_write_header)
#define archive_write_open_fd (*msb_la.p_archive_write_open_fd)
#define archive_write_set_bytes_per_block                                      \
	(*msb_la.p_archive_write_set_bytes_per_block)
#define archive_write_set_format_pax_restricted                                \
	(*msb_la.p_archive_write_set_format_pax_restricted)
#define archive_read_new()                                                     \
	(msb_libarchive_load() < 0 ? NULL : msb_la.p_archive_read_new())
#define archive_write_new()                                                    \
	(msb_libarchive_load() < 0 ? NULL : msb_la.p_archive_write_new())
#define archive_entry_new()                                                    \
	(msb_libarchive_load() < 0 ? NULL : msb_la.p_archive_entry_new())

#endif
