chmod 0640 tool.sh dir/f dir/sub/g
chmod 0750 dir dir/sub
