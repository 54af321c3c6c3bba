// Package imgdiff compares images: [Images] lists the files one image adds,
// deletes and changes relative to another, with their sizes, as docker diff
// does for a container; [Sharing] tells, for every image of a store, how many
// of its bytes are in layers other images use too (pulled and stored once
// per host) and how many are its own, as docker system df -v does.
package imgdiff
