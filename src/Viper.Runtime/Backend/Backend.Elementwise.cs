namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Activate(Tensor x, Activation activation)
    {
        Own(x);
        OpChecks.Activate(x, activation);
        return ActivateCore(x, activation);
    }

    public Tensor Geglu(Tensor x)
    {
        Own(x);
        return GegluCore(x, OpChecks.Geglu(x));
    }

    public Tensor Swiglu(Tensor gate, Tensor up)
    {
        Own(gate, up);
        OpChecks.Float("swiglu", gate, "gate");
        OpChecks.SameDType("swiglu", gate, up);
        OpChecks.ShapeIs("swiglu", up, "up", gate.Shape);
        return SwigluCore(gate, up);
    }

    public Tensor Add(Tensor a, Tensor b) => BinaryCore(BinaryOp.Add, Broadcast("add", a, b), b);

    public Tensor Mul(Tensor a, Tensor b) => BinaryCore(BinaryOp.Mul, Broadcast("mul", a, b), b);

    public Tensor Subtract(Tensor a, Tensor b) => BinaryCore(BinaryOp.Subtract, Broadcast("sub", a, b), b);

    public Tensor Divide(Tensor a, Tensor b) => BinaryCore(BinaryOp.Divide, Broadcast("div", a, b), b);

    public Tensor Sqrt(Tensor x) => UnaryCore(UnaryOp.Sqrt, FloatInput("sqrt", x));

    public Tensor Rsqrt(Tensor x) => UnaryCore(UnaryOp.Rsqrt, FloatInput("rsqrt", x));

    public Tensor Scale(Tensor x, float factor) => ScaleCore(FloatInput("scale", x), factor);

    public Tensor Softmax(Tensor x) => SoftmaxCore(FloatInput("softmax", x));

    public Tensor Cast(Tensor x, DType dtype)
    {
        Own(x);
        OpChecks.Defined("cast", dtype);
        return CastCore(x, dtype);
    }

    public void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Guidance.GuidanceStep step)
    {
        Own(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise);
        OpChecks.GuidanceStep(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise, step);
        GuidanceStepCore(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise, step);
    }

    protected abstract Tensor ActivateCore(Tensor x, Activation activation);

    /// <param name="output">(…, N) for x (…, 2N).</param>
    protected abstract Tensor GegluCore(Tensor x, Shape output);

    protected abstract Tensor SwigluCore(Tensor gate, Tensor up);

    /// <summary>a op b, b broadcast onto a's shape (or equal to it).</summary>
    protected abstract Tensor BinaryCore(BinaryOp op, Tensor a, Tensor b);

    protected abstract Tensor UnaryCore(UnaryOp op, Tensor x);

    protected abstract Tensor ScaleCore(Tensor x, float factor);

    protected abstract Tensor SoftmaxCore(Tensor x);

    protected abstract Tensor CastCore(Tensor x, DType dtype);

    protected abstract void GuidanceStepCore(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents,
        Tensor? noise, Guidance.GuidanceStep step);

    /// <summary>Validates a float tensor of this backend and returns it.</summary>
    private Tensor FloatInput(string op, Tensor x)
    {
        Own(x);
        OpChecks.Float(op, x, "x");
        return x;
    }

    /// <summary>Validates a broadcasting binary op's operands and returns a.</summary>
    private Tensor Broadcast(string op, Tensor a, Tensor b)
    {
        Own(a, b);
        OpChecks.Float(op, a, "a");
        OpChecks.Broadcast(op, a, b);
        return a;
    }
}
