mkdir -p cache/x src/a/gen src/keep/gen src/deep/er/gen other/cache
echo c > cache/x/c; echo o > main.o; echo o > src/a/x.o; echo g > src/a/gen/g.go
echo k > src/keep/gen/k.go; echo g > src/deep/er/gen/g.go; echo oc > other/cache/f
echo l > log1.txt; echo l > log10.txt; echo a > a.md; echo c > c.md; echo m > src/main.c
