/** Names and attributes shared by OCI layer tars and the overlayfs on-disk format. */

/** OCI: a file named `.wh.<name>` deletes `<name>` from the layers below. */
export const WHITEOUT_PREFIX = '.wh.';
/** OCI: names starting with this are metadata, not whiteouts of a file. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** OCI: present in a directory, hides everything the layers below have in it. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** overlayfs: a directory with this xattr set to "y" hides the lower layers' contents. */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
