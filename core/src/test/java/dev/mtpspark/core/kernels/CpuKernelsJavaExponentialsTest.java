package dev.mtpspark.core.kernels;

/** {@link KernelsTest} with the CPU kernels' Java exponentials: what small sizes, such as a decoding step, run. */
class CpuKernelsJavaExponentialsTest extends KernelsTest {
    @Override
    Kernels cpuKernels() {
        return new CpuKernels(CONTEXT, HEAD_WIDTH, Integer.MAX_VALUE);
    }
}
