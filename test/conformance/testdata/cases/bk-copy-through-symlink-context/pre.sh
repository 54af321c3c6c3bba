mkdir -p sub
printf contents > sub/foo
ln -s sub link
