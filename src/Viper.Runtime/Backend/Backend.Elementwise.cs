namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Activate(Tensor x, Activation activation)
    {
        Own(x);
        OpChecks.Activate(x, activation);
        return Kept(ActivateCore(x, activation), x);
    }

    public Tensor Geglu(Tensor x)
    {
        Own(x);
        return Kept(GegluCore(x, OpChecks.Geglu(x)), x);
    }

    public Tensor Swiglu(Tensor gate, Tensor up)
    {
        Own(gate, up);
        OpChecks.Float("swiglu", gate, "gate");
        OpChecks.SameDType("swiglu", gate, up);
        OpChecks.ShapeIs("swiglu", up, "up", gate.Shape);
        return Kept(SwigluCore(gate, up), gate, up);
    }

    public Tensor Add(Tensor a, Tensor b) => Kept(BinaryCore(BinaryOp.Add, Broadcast("add", a, b), b), a, b);

    public Tensor Mul(Tensor a, Tensor b) => Kept(BinaryCore(BinaryOp.Mul, Broadcast("mul", a, b), b), a, b);

    public Tensor Scale(Tensor x, float factor) => Kept(ScaleCore(FloatInput("scale", x), factor), x);

    public Tensor Clamp(Tensor x, float min, float max)
    {
        OpChecks.ClampBounds(min, max);
        return Kept(ClampCore(FloatInput("clamp", x), min, max), x);
    }

    public Tensor Cast(Tensor x, DType dtype)
    {
        Own(x);
        OpChecks.Defined("cast", dtype);
        return Kept(CastCore(x, dtype), x);
    }

    public void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Guidance.GuidanceStep step)
    {
        Own(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise);
        OpChecks.GuidanceStep(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise, step);
        GuidanceStepCore(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise, step);
        KeepAlive(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise);
    }

    protected abstract Tensor ActivateCore(Tensor x, Activation activation);

    /// <param name="output">(…, N) for x (…, 2N).</param>
    protected abstract Tensor GegluCore(Tensor x, Shape output);

    protected abstract Tensor SwigluCore(Tensor gate, Tensor up);

    /// <summary>a op b, b broadcast onto a's shape (or equal to it).</summary>
    protected abstract Tensor BinaryCore(BinaryOp op, Tensor a, Tensor b);

    protected abstract Tensor ScaleCore(Tensor x, float factor);

    protected abstract Tensor ClampCore(Tensor x, float min, float max);

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
