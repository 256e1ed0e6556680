namespace Viper.Runtime;

/// <summary>
/// The ops diffusion models use beyond the core ones: the fused group norm of the UNet's and VAE's ResNet blocks, the
/// timestep embedding and the fused ViPer guidance step. Asked for with <see cref="Capabilities.Diffusion"/>.
/// </summary>
public interface IDiffusionOps
{
    /// <summary>
    /// Group norm over the channel-last layout (N, …, C) with f32 statistics, optionally followed by SiLU. When
    /// <paramref name="add"/> is given — x's shape, or (N, C) broadcast over positions — x + add (rounded to x's dtype,
    /// as the unfused add would be) is what gets normalised: diffusers ResnetBlock2D's norm2(h + temb) in one op.
    /// </summary>
    Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu = false, Tensor? add = null);

    /// <summary>Sinusoidal embedding of timesteps (N) → (N, Dim), diffusers' get_timestep_embedding.</summary>
    Tensor TimestepEmbedding(Tensor timesteps, TimestepEmbeddingOptions options);

    /// <summary>
    /// The fused ViPer guidance step over the four UNet outputs (same shape and dtype) and f32 latents, updated in
    /// place: eps = eps_u + w·(eps_c + β₊·eps_vp+ − eps_u − β₋·eps_vp−), then x ← a·x + b·eps (+ c·noise when given).
    /// Every backend follows <see cref="Guidance.GuidanceStep.Combine"/>'s order of f32 operations exactly.
    /// </summary>
    void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Guidance.GuidanceStep step);
}
