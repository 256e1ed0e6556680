namespace Viper.Runtime;

/// <summary>The broadcasting binary ops, in the order kernels/elementwise.cu numbers them.</summary>
public enum BinaryOp
{
    Add,
    Mul,
}
