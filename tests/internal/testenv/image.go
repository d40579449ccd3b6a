package testenv

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
)

// Image is a one-layer OCI image made from a directory, for tools that
// import images (`ctr images import`) rather than run bundles.
type Image struct {
	// Name is the reference the image is imported as, in full
	// (docker.io/library/busybox:latest).
	Name string
	// Rootfs is the directory that becomes the image's only layer. Its
	// files are owned by root in the layer, except those in Owners.
	Rootfs string
	// Owners gives the uid and gid of paths relative to Rootfs.
	Owners map[string][2]int
	// Config is the image config's "config" object (Env, Cmd, Entrypoint,
	// User, WorkingDir).
	Config map[string]any
}

// WriteArchive writes the image as a tar of an OCI image layout, with the
// io.containerd.image.name annotation that names it on import.
func (im Image) WriteArchive(out string) error {
	layer, err := tarDir(im.Rootfs, im.Owners)
	if err != nil {
		return fmt.Errorf("layer of %s: %w", im.Rootfs, err)
	}
	blobs := map[string][]byte{}
	put := func(b []byte) (string, int) {
		d := fmt.Sprintf("%x", sha256.Sum256(b))
		blobs[d] = b
		return "sha256:" + d, len(b)
	}
	ld, ls := put(layer)
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": im.Config,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{ld}},
	})
	if err != nil {
		return err
	}
	cd, cs := put(cfg)
	man, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}},
	})
	if err != nil {
		return err
	}
	md, ms := put(man)
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
			"annotations": map[string]string{
				"io.containerd.image.name":          im.Name,
				"org.opencontainers.image.ref.name": "latest",
			},
		}},
	})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := add("index.json", index); err != nil {
		return err
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if err := add("blobs/sha256/"+d, blobs[d]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// tarDir returns dir's tree as an uncompressed tar, every entry owned by
// root unless owners names it.
func tarDir(dir string, owners map[string][2]int) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if o, ok := owners[rel]; ok {
			h.Uid, h.Gid = o[0], o[1]
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayer writes the image's layer alone, as the tar `podman import`
// takes.
func (im Image) WriteLayer(out string) error {
	layer, err := tarDir(im.Rootfs, im.Owners)
	if err != nil {
		return fmt.Errorf("layer of %s: %w", im.Rootfs, err)
	}
	return os.WriteFile(out, layer, 0o644)
}
