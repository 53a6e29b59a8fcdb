;; The block-key chain of src/kvblock/keys.ts for blocks without extras, in WebAssembly: the same
;; cbor-fnv hash (FNV-1a-64 over the CBOR of [parent, tokens, null]) with the 64-bit state in one
;; i64 instead of two uint32 halves. Embedded as base64 in chain-wasm.ts;
;; test/kvblock/chain-wasm.test.ts assembles this file and fails, printing the bytes, when they differ.
(module
  (memory (export "memory") 1)
  ;; One FNV-1a-64 step: (h ^ byte) * prime.
  (func $byte (param $h i64) (param $x i32) (result i64)
    (i64.mul (i64.xor (local.get $h) (i64.extend_i32_u (local.get $x))) (i64.const 0x100000001b3)))
  ;; CBOR head, shortest form: $type = major << 5, $v < 2^32.
  (func $head (param $h i64) (param $type i32) (param $v i32) (result i64)
    (if (i32.lt_u (local.get $v) (i32.const 24))
      (then (return (call $byte (local.get $h) (i32.or (local.get $type) (local.get $v))))))
    (if (i32.lt_u (local.get $v) (i32.const 256))
      (then (return (call $byte (call $byte (local.get $h) (i32.or (local.get $type) (i32.const 24))) (local.get $v)))))
    (if (i32.lt_u (local.get $v) (i32.const 65536))
      (then (return
        (call $byte
          (call $byte (call $byte (local.get $h) (i32.or (local.get $type) (i32.const 25))) (i32.shr_u (local.get $v) (i32.const 8)))
          (i32.and (local.get $v) (i32.const 255))))))
    (call $byte
      (call $byte
        (call $byte
          (call $byte (call $byte (local.get $h) (i32.or (local.get $type) (i32.const 26))) (i32.shr_u (local.get $v) (i32.const 24)))
          (i32.and (i32.shr_u (local.get $v) (i32.const 16)) (i32.const 255)))
        (i32.and (i32.shr_u (local.get $v) (i32.const 8)) (i32.const 255)))
      (i32.and (local.get $v) (i32.const 255))))
  ;; CBOR unsigned integer from a uint64 parent key.
  (func $uint64 (param $h i64) (param $v i64) (result i64)
    (local $shift i64)
    (if (i64.lt_u (local.get $v) (i64.const 0x100000000))
      (then (return (call $head (local.get $h) (i32.const 0) (i32.wrap_i64 (local.get $v))))))
    (local.set $h (call $byte (local.get $h) (i32.const 0x1b)))
    (local.set $shift (i64.const 56))
    (loop $bytes
      (local.set $h (call $byte (local.get $h) (i32.and (i32.wrap_i64 (i64.shr_u (local.get $v) (local.get $shift))) (i32.const 255))))
      (local.set $shift (i64.sub (local.get $shift) (i64.const 8)))
      (br_if $bytes (i64.ge_s (local.get $shift) (i64.const 0))))
    (local.get $h))
  ;; Keys of $n blocks of $size uint32 tokens at $tokens (little-endian), chained from parent
  ;; ($hi, $lo): key_i = FNV-1a-64(CBOR [key_{i-1}, tokens_i, null]), stored as uint64 at $out + 8i.
  (func (export "chain") (param $tokens i32) (param $n i32) (param $size i32) (param $hi i32) (param $lo i32) (param $out i32)
    (local $parent i64) (local $h i64) (local $i i32) (local $j i32) (local $p i32)
    (local.set $parent (i64.or (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)) (i64.extend_i32_u (local.get $lo))))
    (local.set $p (local.get $tokens))
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $blocks
      (local.set $h (call $byte (i64.const 0xcbf29ce484222325) (i32.const 0x83)))
      (local.set $h (call $uint64 (local.get $h) (local.get $parent)))
      (local.set $h (call $head (local.get $h) (i32.const 0x80) (local.get $size)))
      (local.set $j (i32.const 0))
      (block $done
        (br_if $done (i32.eqz (local.get $size)))
        (loop $ids
          (local.set $h (call $head (local.get $h) (i32.const 0) (i32.load (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $ids (i32.lt_u (local.get $j) (local.get $size)))))
      (local.set $h (call $byte (local.get $h) (i32.const 0xf6)))
      (i64.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3))) (local.get $h))
      (local.set $parent (local.get $h))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $blocks (i32.lt_u (local.get $i) (local.get $n))))))
