using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2Connector (<c>model.connector</c>): the SwiGLU modality projection from the vision width to the
/// text width, then the perceiver resampler (<c>perceiver_resampler</c>: learned latents, its layers, a final RMS norm)
/// that turns each image's patches into <see cref="Idefics2Config.ImageSequenceLength"/> states.
/// </summary>
public sealed class Idefics2Connector : Module
{
    private readonly GatedMlp _modalityProjection;
    private readonly Tensor _latents;
    private readonly Idefics2PerceiverLayer[] _layers;
    private readonly RmsNorm _norm;
    private readonly int _hidden;

    public Idefics2Connector(WeightScope scope, Idefics2Config config)
    {
        _hidden = config.Text.HiddenSize;
        _modalityProjection = Own(new GatedMlp(scope["modality_projection"], config.Vision.HiddenSize, config.Text.IntermediateSize, _hidden));
        WeightScope resampler = scope["perceiver_resampler"];
        _latents = Own(resampler.Tensor("latents", config.Perceiver.ResamplerNLatents, _hidden));
        _layers = [.. Enumerable.Range(0, config.Perceiver.ResamplerDepth)
            .Select(i => Own(new Idefics2PerceiverLayer(resampler["layers"][i], _hidden, config.Text.RmsNormEps, config.Perceiver)))];
        _norm = Own(new RmsNorm(resampler["norm"], _hidden, config.Text.RmsNormEps));
    }

    /// <summary>Vision states (n, P, Cv) with their patch grid → image states (n, latents, C).</summary>
    public Tensor Forward(IBackend b, Tensor visionStates, PatchGrid grid)
    {
        int images = visionStates.Shape[0], latentCount = _latents.Shape[0];
        using Tensor context = _modalityProjection.Forward(b, visionStates);
        int[] patches = grid.KeyMask(); // context ⊕ latents: the latents are always attended to
        int[] mask = [.. Enumerable.Range(0, images).SelectMany(i => patches.Skip(i * grid.PatchesPerImage).Take(grid.PatchesPerImage)
            .Concat(Enumerable.Repeat(1, latentCount)))];
        using Tensor keyMask = b.FromInts(mask, new Shape(images, grid.PatchesPerImage + latentCount));
        Tensor latents;
        using (Tensor zeros = b.Allocate(new Shape(images, latentCount, _hidden), visionStates.DType))
        {
            latents = b.Add(zeros, _latents); // the learned latents, one copy per image
        }

        foreach (Idefics2PerceiverLayer layer in _layers)
        {
            Tensor next = layer.Forward(b, latents, context, keyMask);
            latents.Dispose();
            latents = next;
        }

        using (latents)
        {
            return _norm.Forward(b, latents);
        }
    }
}
