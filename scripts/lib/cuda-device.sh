# cuda_device_setup BIN: on the GPU machine, in the repository root, unpacks the binary that
# `scripts/cuda-proof.sh build` left in .cuda/ to BIN, makes the path it was built in point here
# (it finds models/ and data/ through that path), and puts the CUDA 13 libraries found under /opt
# or /usr/local on LD_LIBRARY_PATH. Prints what it found, for the log.
cuda_device_setup() {
  local bin="$1" root built dirs="" so f
  root="$(pwd)"
  xz -dc .cuda/metamorph-train.xz >"$bin" 2>/dev/null ||
    python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' .cuda/metamorph-train.xz >"$bin"
  chmod +x "$bin"
  built="$(cat .cuda/BUILT_ROOT 2>/dev/null || echo /work/main)"
  if [ "$(realpath "$built" 2>/dev/null)" != "$(realpath "$root")" ]; then
    if [ -e "$built" ]; then
      echo "warning: $built exists and is not this checkout: models/ and data/ are read from there"
    else
      mkdir -p "$(dirname "$built")" && ln -s "$root" "$built" && echo "linked $built -> $root"
    fi
  fi
  for so in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13; do
    f="$(find /opt /usr/local -name "$so" -print -quit 2>/dev/null)"
    echo "$so: ${f:-NOT FOUND}"
    [ -n "$f" ] && case ":$dirs:" in *":$(dirname "$f"):"*) ;; *) dirs="$dirs:$(dirname "$f")" ;; esac
  done
  dirs="${dirs#:}"
  export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+${dirs:+:}$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
  nproc
  ldd "$bin"
}
