namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale = null)
    {
        Own(x, weight, bias, weightScale);
        return Kept(LinearCore(x, weight, bias, weightScale, OpChecks.Linear(x, weight, bias, weightScale)), x, weight, bias, weightScale);
    }

    public Tensor MatMul(Tensor a, Tensor b, bool transposeB = false, float alpha = 1f, bool transposeA = false)
    {
        Own(a, b);
        return Kept(MatMulCore(a, b, transposeB, alpha, transposeA, OpChecks.MatMul(a, b, transposeB, transposeA)), a, b);
    }

    public Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual = null)
    {
        Own(x, weight, bias, residual);
        return Kept(Conv2dCore(x, weight, bias, options, residual, OpChecks.Conv2d(x, weight, bias, options, residual)), x, weight, bias, residual);
    }

    /// <summary>The linear of <see cref="Linear"/>; a weight in x's dtype needs no scale, any other is dequantized as it is read.</summary>
    protected abstract Tensor LinearCore(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale, Shape output);

    protected abstract Tensor MatMulCore(Tensor a, Tensor b, bool transposeB, float alpha, bool transposeA, Shape output);

    protected abstract Tensor Conv2dCore(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual, Shape output);
}
