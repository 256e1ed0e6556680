namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        Own(x, weight, bias);
        return Kept(LinearCore(x, weight, bias, OpChecks.Linear(x, weight, bias)), x, weight, bias);
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

    protected abstract Tensor LinearCore(Tensor x, Tensor weight, Tensor? bias, Shape output);

    protected abstract Tensor MatMulCore(Tensor a, Tensor b, bool transposeB, float alpha, bool transposeA, Shape output);

    protected abstract Tensor Conv2dCore(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual, Shape output);
}
