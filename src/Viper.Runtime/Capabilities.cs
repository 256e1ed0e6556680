namespace Viper.Runtime;

/// <summary>
/// A model asks its backend for the op groups it needs beyond <see cref="IBackend"/> — a language model for
/// <see cref="IDecodingOps"/>, a UNet or VAE for <see cref="IDiffusionOps"/>, a trainer for <see cref="ITrainingOps"/> —
/// and a backend without them is refused by name when the model is built, not at its first step.
/// </summary>
public static class Capabilities
{
    public static IDecodingOps Decoding(this IBackend backend) => Require<IDecodingOps>(backend, "decoding (KV cache, rotary, greedy selection)");

    public static IDiffusionOps Diffusion(this IBackend backend) => Require<IDiffusionOps>(backend, "diffusion (group norm, timestep embedding, guidance)");

    public static ITrainingOps Training(this IBackend backend) => Require<ITrainingOps>(backend, "training (backward ops, Adam)");

    private static T Require<T>(IBackend backend, string what)
        where T : class =>
        backend as T ?? throw new NotSupportedException($"the {backend.Name} backend has no {what} ops ({typeof(T).Name})");
}
