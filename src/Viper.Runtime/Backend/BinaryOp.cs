namespace Viper.Runtime;

/// <summary>The broadcasting binary ops, in the order kernels/elementwise.cu numbers them.</summary>
public enum BinaryOp
{
    Add,
    Mul,
    Subtract,
    Divide,
}

/// <summary>The plain unary float ops.</summary>
public enum UnaryOp
{
    Sqrt,
    Rsqrt,
}
