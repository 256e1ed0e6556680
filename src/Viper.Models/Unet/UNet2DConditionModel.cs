using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Unet;

/// <summary>SDXL's added conditioning: the pooled text embedding (B, P: 1280 for SDXL) and the time ids (B, 6 or 5) as floats.</summary>
public sealed record AddedConditions(Tensor TextEmbeds, Tensor TimeIds);

/// <summary>
/// diffusers UNet2DConditionModel (unet_2d_condition.py) on NHWC latents, for SD1.x/2.x and SDXL base/refiner layouts:
/// time_proj → time_embedding (+ add_embedding of [text_embeds, add_time_proj(time_ids)] for text_time), conv_in, the
/// down blocks, the mid block, the up blocks consuming the skips, conv_norm_out + SiLU, conv_out.
/// </summary>
public sealed class UNet2DConditionModel : Module
{
    private readonly UNet2DConditionConfig _config;
    private readonly TimestepEmbedding _timeEmbedding;
    private readonly TimestepEmbedding? _addEmbedding;
    private readonly Conv2d _convIn, _convOut;
    private readonly UNetDownBlock[] _down;
    private readonly UNetMidBlock2DCrossAttn _mid;
    private readonly UNetUpBlock[] _up;
    private readonly GroupNorm _normOut;
    private readonly DType _dtype;

    public UNet2DConditionModel(WeightScope root, UNet2DConditionConfig config)
    {
        _config = config;
        _dtype = root.DType;
        Parameters = Own(root.Source.Parameters);
        int[] channels = config.BlockOutChannels;
        int levels = channels.Length;
        _timeEmbedding = Own(new TimestepEmbedding(root["time_embedding"], channels[0], config.TimeEmbedDim));
        _addEmbedding = config.AdditionEmbedType == "text_time"
            ? Own(new TimestepEmbedding(root["add_embedding"], config.ProjectionClassEmbeddingsInputDim!.Value, config.TimeEmbedDim))
            : null;
        _convIn = Own(new Conv2d(root["conv_in"], config.InChannels, channels[0], config.ConvInKernel));
        _down = Enumerable.Range(0, levels)
            .Select(i => Own(new UNetDownBlock(root["down_blocks"][i], config, i, i == 0 ? channels[0] : channels[i - 1], channels[i],
                last: i == levels - 1)))
            .ToArray();
        _mid = Own(new UNetMidBlock2DCrossAttn(root["mid_block"], config));
        int[] reversed = channels.Reverse().ToArray();
        _up = Enumerable.Range(0, levels)
            .Select(i => Own(new UNetUpBlock(root["up_blocks"][i], config, i, prevOutputChannels: i == 0 ? reversed[0] : reversed[i - 1],
                outChannels: reversed[i], inChannels: reversed[Math.Min(i + 1, levels - 1)], last: i == levels - 1)))
            .ToArray();
        _normOut = Own(new GroupNorm(root["conv_norm_out"], config.NormNumGroups, channels[0], config.NormEps));
        _convOut = Own(new Conv2d(root["conv_out"], channels[0], config.OutChannels, config.ConvOutKernel));
    }

    public UNet2DConditionConfig Config => _config;

    /// <summary>Every parameter loaded for this model, by its checkpoint name.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Loads a diffusers <c>unet</c> folder (config.json + diffusion_pytorch_model[.variant].safetensors).</summary>
    /// <param name="linearWeights">The format the linear layers' weights are kept in (null: <paramref name="dtype"/>).</param>
    public static UNet2DConditionModel Load(string folder, IBackend backend, DType dtype, string? variant = null, DType? linearWeights = null)
    {
        _ = backend.Diffusion(); // refused now, not at the first step, on a backend without the op group
        UNet2DConditionConfig config = UNet2DConditionConfig.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "diffusion_pytorch_model", variant,
            store =>
            {
                MemoryFit.Check(store, backend, dtype, linearWeights);
                return new UNet2DConditionModel(new CheckpointWeights(store, backend, dtype, linearWeights: linearWeights).Root, config);
            });
    }

    /// <summary>
    /// The model output for latents <paramref name="sample"/> (B, H, W, C) at timesteps (B, float32) with text states
    /// <paramref name="context"/> (B, S, cross_attention_dim); SDXL layouts also need <paramref name="added"/>.
    /// </summary>
    public Tensor Forward(IBackend b, Tensor sample, Tensor timesteps, Tensor context, AddedConditions? added = null)
    {
        Validate(sample, timesteps, context, added);
        using Tensor tembSilu = TimeEmbedding(b, timesteps, added);
        var skips = new List<Tensor>();
        try
        {
            Tensor hidden = _convIn.Forward(b, sample);
            skips.Add(hidden);
            foreach (UNetDownBlock block in _down)
            {
                hidden = block.Forward(b, hidden, tembSilu, context, skips);
            }

            hidden = _mid.Forward(b, hidden, tembSilu, context);
            foreach (UNetUpBlock block in _up)
            {
                using Tensor input = hidden;
                hidden = block.Forward(b, input, tembSilu, context, skips);
            }

            using (hidden)
            using (Tensor normed = _normOut.Forward(b, hidden, silu: true))
            {
                return _convOut.Forward(b, normed);
            }
        }
        finally
        {
            skips.ForEach(s => s.Dispose());
        }
    }

    private Tensor TimeEmbedding(IBackend b, Tensor timesteps, AddedConditions? added)
    {
        using Tensor projected = Cast(b, b.Diffusion().TimestepEmbedding(timesteps,
            new TimestepEmbeddingOptions(_config.BlockOutChannels[0], _config.FlipSinToCos, _config.FreqShift)));
        Tensor emb = _timeEmbedding.Forward(b, projected);
        if (_addEmbedding is not null)
        {
            using Tensor time = emb;
            using Tensor addEmb = AddedEmbedding(b, added!);
            emb = b.Add(time, addEmb);
        }

        using (emb)
        {
            return b.Activate(emb, Activation.Silu);
        }
    }

    // SDXL: add_time_proj of every time id (256 sinusoids each), flattened per sample after the pooled text embedding.
    private Tensor AddedEmbedding(IBackend b, AddedConditions added)
    {
        int batch = added.TimeIds.Shape[0];
        int ids = added.TimeIds.Shape[1];
        using Tensor flatIds = added.TimeIds.Reshape(batch * ids);
        using Tensor idEmbeds = Cast(b, b.Diffusion().TimestepEmbedding(flatIds,
            new TimestepEmbeddingOptions(_config.AdditionTimeEmbedDim!.Value, _config.FlipSinToCos, _config.FreqShift)));
        using Tensor perSample = idEmbeds.Reshape(batch, ids * _config.AdditionTimeEmbedDim!.Value);
        using Tensor joined = b.Concat([added.TextEmbeds, perSample], axis: 1);
        return _addEmbedding!.Forward(b, joined);
    }

    private Tensor Cast(IBackend b, Tensor x)
    {
        if (x.DType == _dtype)
        {
            return x;
        }

        using (x)
        {
            return b.Cast(x, _dtype);
        }
    }

    private void Validate(Tensor sample, Tensor timesteps, Tensor context, AddedConditions? added)
    {
        int downFactor = 1 << (_config.BlockOutChannels.Length - 1);
        if (sample.Shape.Rank != 4 || sample.Shape[3] != _config.InChannels || sample.Shape[1] % downFactor != 0 || sample.Shape[2] % downFactor != 0)
        {
            throw new ArgumentException(
                $"unet: sample must be (B, H, W, {_config.InChannels}) with H and W multiples of {downFactor}, not {sample.Shape}");
        }

        int batch = sample.Shape[0];
        if (timesteps.Shape.Rank != 1 || timesteps.Shape[0] != batch || timesteps.DType != DType.F32)
        {
            throw new ArgumentException($"unet: timesteps must be F32 ({batch}), not {timesteps.Shape} {timesteps.DType}");
        }

        if (context.Shape.Rank != 3 || context.Shape[0] != batch || context.Shape[2] != _config.CrossAttentionDim)
        {
            throw new ArgumentException($"unet: encoder hidden states must be ({batch}, S, {_config.CrossAttentionDim}), not {context.Shape}");
        }

        // diffusers: add_embedding(cat(text_embeds, add_time_proj(time_ids))) must take projection_class_embeddings_input_dim.
        int width = _config.ProjectionClassEmbeddingsInputDim ?? 0, timeDim = _config.AdditionTimeEmbedDim ?? 0;
        if (_addEmbedding is not null && (added is null || added.TextEmbeds.Shape.Rank != 2 || added.TimeIds.Shape.Rank != 2 ||
                added.TextEmbeds.Shape[0] != batch || added.TimeIds.Shape[0] != batch ||
                added.TextEmbeds.Shape[1] + (added.TimeIds.Shape[1] * timeDim) != width))
        {
            throw new ArgumentException(
                $"unet: this SDXL-layout UNet needs text_embeds ({batch}, P) and time_ids ({batch}, N) with P + N·{timeDim} = {width} " +
                $"(projection_class_embeddings_input_dim), not {added?.TextEmbeds.Shape} and {added?.TimeIds.Shape}");
        }
    }
}
