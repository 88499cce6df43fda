;; The CSR latency's sparse product (csr.ts), in WebAssembly with 128-bit SIMD.
;;
;; One layer: out[j][r] = bias[j] + sum over unit j's stored weights k of values[k] * h[cols[k]][r],
;; for r < rows. h and out are feature-major (a feature's `rows` sums are contiguous), so each
;; stored weight scales a contiguous run of h and adds it to a contiguous run of out: four lanes
;; at a time, four stored weights per pass over out, so each lane of out is loaded and stored
;; once per four products. V8 runs the same loops in JavaScript one lane at a time; this made the
;; product 4-9x faster on the 784-1000-1000-500-200-10 MLP (session 17; most at 50-70% sparsity).
;;
;; Sums are float32, as the dense kernels' are; rows that are not a multiple of four end in
;; scalar lanes. Every pointer is a byte offset into the imported memory, laid out by csr.ts.
(module
  (import "env" "memory" (memory 1))

  (func (export "csrLayer")
    (param $units i32) (param $rows i32)
    (param $rowPtr i32) (param $cols i32) (param $values i32) (param $bias i32)
    (param $h i32) (param $out i32)
    (local $j i32) (local $o i32) (local $k i32) (local $end i32)
    (local $stride i32) (local $vecEnd i32)
    (local.set $stride (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $vecEnd (i32.and (local.get $stride) (i32.const -16)))
    (local.set $o (local.get $out))
    (block $done
      (loop $unit
        (br_if $done (i32.ge_u (local.get $j) (local.get $units)))
        (call $fill (local.get $o) (local.get $stride) (local.get $vecEnd)
          (if (result f32) (local.get $bias)
            (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))
            (else (f32.const 0))))
        (local.set $k (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $end (i32.load offset=4 (i32.add (local.get $rowPtr) (i32.shl (local.get $j) (i32.const 2)))))
        ;; Four stored weights per pass while four are left, then one.
        (block $fours
          (loop $four
            (br_if $fours (i32.gt_s (i32.add (local.get $k) (i32.const 4)) (local.get $end)))
            (call $addFour (local.get $o) (local.get $stride) (local.get $vecEnd) (local.get $h)
              (i32.add (local.get $cols) (i32.shl (local.get $k) (i32.const 2)))
              (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $four)))
        (block $ones
          (loop $one
            (br_if $ones (i32.ge_s (local.get $k) (local.get $end)))
            (call $addOne (local.get $o) (local.get $stride) (local.get $vecEnd)
              (i32.add (local.get $h)
                (i32.mul (i32.load (i32.add (local.get $cols) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride)))
              (f32.load (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $one)))
        (local.set $o (i32.add (local.get $o) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $unit))))

  ;; out[0 .. stride bytes) = b.
  (func $fill (param $o i32) (param $stride i32) (param $vecEnd i32) (param $b f32)
    (local $r i32) (local $bb v128)
    (local.set $bb (f32x4.splat (local.get $b)))
    (block $vecs
      (loop $vec
        (br_if $vecs (i32.ge_u (local.get $r) (local.get $vecEnd)))
        (v128.store (i32.add (local.get $o) (local.get $r)) (local.get $bb))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (br $vec)))
    (block $lanes
      (loop $lane
        (br_if $lanes (i32.ge_u (local.get $r) (local.get $stride)))
        (f32.store (i32.add (local.get $o) (local.get $r)) (local.get $b))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $lane))))

  ;; out += v * (the row of h at byte offset $c).
  (func $addOne (param $o i32) (param $stride i32) (param $vecEnd i32) (param $c i32) (param $v f32)
    (local $r i32) (local $vv v128)
    (local.set $vv (f32x4.splat (local.get $v)))
    (block $vecs
      (loop $vec
        (br_if $vecs (i32.ge_u (local.get $r) (local.get $vecEnd)))
        (v128.store (i32.add (local.get $o) (local.get $r))
          (f32x4.add (v128.load (i32.add (local.get $o) (local.get $r)))
            (f32x4.mul (local.get $vv) (v128.load (i32.add (local.get $c) (local.get $r))))))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (br $vec)))
    (block $lanes
      (loop $lane
        (br_if $lanes (i32.ge_u (local.get $r) (local.get $stride)))
        (f32.store (i32.add (local.get $o) (local.get $r))
          (f32.add (f32.load (i32.add (local.get $o) (local.get $r)))
            (f32.mul (local.get $v) (f32.load (i32.add (local.get $c) (local.get $r))))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $lane))))

  ;; out += the four stored weights at $pv times their rows of h (their features at $pc).
  (func $addFour (param $o i32) (param $stride i32) (param $vecEnd i32) (param $h i32) (param $pc i32) (param $pv i32)
    (local $r i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $c0 (i32.add (local.get $h) (i32.mul (i32.load (local.get $pc)) (local.get $stride))))
    (local.set $c1 (i32.add (local.get $h) (i32.mul (i32.load offset=4 (local.get $pc)) (local.get $stride))))
    (local.set $c2 (i32.add (local.get $h) (i32.mul (i32.load offset=8 (local.get $pc)) (local.get $stride))))
    (local.set $c3 (i32.add (local.get $h) (i32.mul (i32.load offset=12 (local.get $pc)) (local.get $stride))))
    (local.set $v0 (f32x4.splat (f32.load (local.get $pv))))
    (local.set $v1 (f32x4.splat (f32.load offset=4 (local.get $pv))))
    (local.set $v2 (f32x4.splat (f32.load offset=8 (local.get $pv))))
    (local.set $v3 (f32x4.splat (f32.load offset=12 (local.get $pv))))
    (block $vecs
      (loop $vec
        (br_if $vecs (i32.ge_u (local.get $r) (local.get $vecEnd)))
        (v128.store (i32.add (local.get $o) (local.get $r))
          (f32x4.add
            (f32x4.add (v128.load (i32.add (local.get $o) (local.get $r)))
              (f32x4.add (f32x4.mul (local.get $v0) (v128.load (i32.add (local.get $c0) (local.get $r))))
                (f32x4.mul (local.get $v1) (v128.load (i32.add (local.get $c1) (local.get $r))))))
            (f32x4.add (f32x4.mul (local.get $v2) (v128.load (i32.add (local.get $c2) (local.get $r))))
              (f32x4.mul (local.get $v3) (v128.load (i32.add (local.get $c3) (local.get $r)))))))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (br $vec)))
    (block $lanes
      (loop $lane
        (br_if $lanes (i32.ge_u (local.get $r) (local.get $stride)))
        (f32.store (i32.add (local.get $o) (local.get $r))
          (f32.add
            (f32.add (f32.load (i32.add (local.get $o) (local.get $r)))
              (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $v0)) (f32.load (i32.add (local.get $c0) (local.get $r))))
                (f32.mul (f32x4.extract_lane 0 (local.get $v1)) (f32.load (i32.add (local.get $c1) (local.get $r))))))
            (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $v2)) (f32.load (i32.add (local.get $c2) (local.get $r))))
              (f32.mul (f32x4.extract_lane 0 (local.get $v3)) (f32.load (i32.add (local.get $c3) (local.get $r)))))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $lane)))))
