# embed.cmake — turns a text file into a C string definition:
#   cmake -DIN=harness.py -DOUT=harness_py.c -DNAME=mg_ev_harness_py -P embed.cmake
# so the installed binary carries its Python scripts and needs no data path.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT}.tmp "/* generated from ${IN} by embed.cmake */\nconst char ${NAME}[] = {\n${body}0x00};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
