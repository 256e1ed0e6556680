namespace Viper.Runtime.Guidance;

/// <summary>
/// One fused ViPer guidance step: eps = eps_u + w·(eps_c + β₊·eps_vp+ − eps_u − β₋·eps_vp−), then the
/// scheduler update x ← a·x + b·eps + c·noise. Field order and sizes match kernels/guidance.cu's
/// GuidanceStep struct, which is passed to the kernel by value.
/// </summary>
public readonly record struct GuidanceStep(float W, float BetaPositive, float BetaNegative, SchedulerUpdate Update)
{
    /// <summary>The ViPer paper's eq. 3: (1−w)·eps_u + w·(eps_p + β·(eps_VP+ − eps_VP−)), i.e. β₊ = β₋ = β.</summary>
    public static GuidanceStep Paper(float w, float beta, SchedulerUpdate update) => new(w, beta, beta, update);

    /// <summary>Plain classifier-free guidance: β₊ = β₋ = 0.</summary>
    public static GuidanceStep ClassifierFree(float w, SchedulerUpdate update) => new(w, 0f, 0f, update);

    public void Validate()
    {
        foreach ((float v, string name) in new[] { (W, "guidance scale w"), (BetaPositive, "β₊"), (BetaNegative, "β₋"),
                     (Update.A, "update a"), (Update.B, "update b"), (Update.C, "update c") })
        {
            if (!float.IsFinite(v))
            {
                throw new ArgumentOutOfRangeException(name, v, $"guidance step: {name} must be finite");
            }
        }
    }

    /// <summary>
    /// The scalar reference of the fused kernel, with the kernel's exact order of f32 operations (no FMA), so
    /// device results match it bit for bit.
    /// </summary>
    public float Combine(float epsU, float epsC, float epsPositive, float epsNegative)
    {
        float d = epsC + (BetaPositive * epsPositive);
        d += -epsU;
        d += -(BetaNegative * epsNegative);
        return epsU + (W * d);
    }

    /// <summary>The scheduler update; without a noise tensor the C term is absent, as in the kernel.</summary>
    public float Apply(float x, float eps, float? noise)
    {
        float next = (Update.A * x) + (Update.B * eps);
        return noise is { } z ? next + (Update.C * z) : next;
    }
}
