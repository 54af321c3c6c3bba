chmod 0755 myscript.sh
