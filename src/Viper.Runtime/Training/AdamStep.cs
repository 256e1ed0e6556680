namespace Viper.Runtime.Training;

/// <summary>
/// One step of torch.optim.Adam (or AdamW when <see cref="Decoupled"/>), PyTorch 1.13's single-tensor path
/// (torch/optim/adam.py _single_tensor_adam): hyper-parameters are Python floats, so the values derived from them
/// (1 − β, lr / (1 − β₁ᵗ), √(1 − β₂ᵗ)) are computed here in double and handed to the kernels as f32, as PyTorch's scalars are.
/// </summary>
public sealed record AdamStep(double LearningRate, int Step, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0, bool Decoupled = false)
{
    /// <summary>lr / (1 − β₁ᵗ), the step size addcdiv uses.</summary>
    public float StepSize => (float)(LearningRate / (1 - Math.Pow(Beta1, Step)));

    /// <summary>√(1 − β₂ᵗ), what √v is divided by before eps is added.</summary>
    public float BiasCorrection2Sqrt => (float)Math.Sqrt(1 - Math.Pow(Beta2, Step));

    /// <summary>AdamW's parameter decay factor 1 − lr·λ (1 for Adam).</summary>
    public float DecayFactor => Decoupled ? (float)(1 - (LearningRate * WeightDecay)) : 1f;

    /// <summary>Adam's L2 term λ added to the gradient as g + λ·p (0 for AdamW).</summary>
    public float GradientDecay => Decoupled ? 0f : (float)WeightDecay;

    /// <summary>The f32 scalars the kernels take.</summary>
    public AdamScalars Scalars() => new((float)Beta1, (float)Beta2, (float)(1 - Beta1), (float)(1 - Beta2), (float)Eps, StepSize, BiasCorrection2Sqrt,
        DecayFactor, GradientDecay);

    public void Validate()
    {
        if (!(LearningRate >= 0) || Step < 1 || !(Beta1 is >= 0 and < 1) || !(Beta2 is >= 0 and < 1) || !(Eps >= 0) || !(WeightDecay >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(AdamStep), this, "adam: needs lr ≥ 0, step ≥ 1, betas in [0, 1), eps ≥ 0, weight decay ≥ 0");
        }
    }
}

/// <summary>An Adam step's scalars as f32, in the order adam.cu's kernel takes them.</summary>
public readonly record struct AdamScalars(float Beta1, float Beta2, float OneMinusBeta1, float OneMinusBeta2, float Eps, float StepSize,
    float BiasCorrection2Sqrt, float DecayFactor, float GradientDecay);

/// <summary>LayerNormBackward's results: dx (x's shape), dγ and dβ (C).</summary>
public sealed record LayerNormGradients(Tensor Dx, Tensor DGamma, Tensor DBeta) : IDisposable
{
    public void Dispose()
    {
        Dx.Dispose();
        DGamma.Dispose();
        DBeta.Dispose();
    }
}

/// <summary>AttentionBackward's results: dq, dk, dv (q's, k's, v's shapes).</summary>
public sealed record AttentionGradients(Tensor Dq, Tensor Dk, Tensor Dv) : IDisposable
{
    public void Dispose()
    {
        Dq.Dispose();
        Dk.Dispose();
        Dv.Dispose();
    }
}
