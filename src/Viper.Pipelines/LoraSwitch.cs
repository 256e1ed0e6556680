using Viper.Models.Adapters;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>
/// Keeps a stage's weights merged with the LoRAs the current request names: W + Σ weight·(alpha/rank)·up·down, computed
/// in f32 from the <b>stored</b> weight (re-read from the checkpoint, not the model's rounded copy) and rounded once to
/// the model's dtype — diffusers' fuse_lora and kohya's merge. Switching sets restores every changed parameter bit for bit
/// first (<see cref="ParameterSet.Restore"/>), so a request without LoRAs after one with them is exactly the base model.
/// Every file is parsed and every key resolved before any weight changes; a failed merge leaves the base model. Each
/// merge runs on the backend of the parameter it changes (the text encoders and the UNet may be placed apart).
/// </summary>
internal sealed class LoraSwitch(Stage stage, PipelineSource source, PipelineOptions options)
{
    private IReadOnlyList<LoraWeight> _applied = [];

    public void Use(IReadOnlyList<LoraWeight> loras, CancellationToken cancellationToken)
    {
        if (_applied.SequenceEqual(loras))
        {
            return;
        }

        IReadOnlyDictionary<string, ParameterSet> components = stage.Parameters;
        var files = new List<LoraFile>();
        try
        {
            var targets = new List<(LoraTarget Target, LoraFile File, float Weight)>();
            foreach (LoraWeight lora in loras)
            {
                LoraFile file = LoraFile.Open(lora.Path);
                files.Add(file);
                targets.AddRange(LoraTargets.Resolve(file, components, stage.Unet.Config).Select(t => (t, file, lora.Weight)));
            }

            Restore(components);
            try
            {
                foreach (var group in targets.GroupBy(t => (t.Target.Component, t.Target.Parameter)))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Merge(components[group.Key.Component], group.Key.Component, group.Key.Parameter, group.ToList());
                }
            }
            catch
            {
                Restore(components);
                throw;
            }

            _applied = [.. loras];
        }
        finally
        {
            files.ForEach(f => f.Dispose());
        }
    }

    private void Restore(IReadOnlyDictionary<string, ParameterSet> components)
    {
        foreach (ParameterSet parameters in components.Values)
        {
            parameters.Restore();
        }

        _applied = [];
    }

    private void Merge(ParameterSet parameters, string component, string name, List<(LoraTarget Target, LoraFile File, float Weight)> loras)
    {
        Parameter p = parameters.Info(name);
        if (!p.Tensor.DType.IsFloat())
        {
            throw new WeightsException($"{loras[0].File.Source}: the model keeps {component} '{name}' as {p.Tensor.DType.Label()} (--weights); a LoRA merges into float weights — load without --weights to use it");
        }

        IBackend backend = p.Tensor.Backend;
        Shape shape = p.CheckpointShape;
        int outFeatures = shape[0];
        int inFeatures = (int)(shape.ElementCount / outFeatures);
        Tensor merged = source.ReadStored(component, name, shape, backend, options.Variant);
        try
        {
            foreach ((LoraTarget target, LoraFile file, float weight) in loras)
            {
                LoraModule m = target.Module;
                int rank = m.Rank;
                if (m.Up.Shape[0] != outFeatures || m.Down.Shape.ElementCount / rank != inFeatures)
                {
                    throw new WeightsException($"{file.Source}: '{m.Key}' maps ({m.Up.Shape[0]} × {m.Down.Shape.ElementCount / rank}) onto {component} '{name}' of {shape}");
                }

                using Tensor up = backend.FromFloats(file.Floats(m.Up), new Shape(1, outFeatures, rank));
                using Tensor down = backend.FromFloats(file.Floats(m.Down), new Shape(1, rank, inFeatures));
                using Tensor product = backend.MatMul(up, down, alpha: (float)(weight * m.Scale));
                using Tensor previous = merged;
                merged = backend.Add(previous, product.Reshape(shape.ToArray()));
            }

            using Tensor value = p.ConvLayout ? ToConvLayout(backend, merged, shape, p.Tensor.DType) : backend.Cast(merged, p.Tensor.DType);
            parameters.Set(name, value);
        }
        finally
        {
            merged.Dispose();
        }
    }

    // The model keeps conv weights (Cout, KH, KW, Cin); the merge happens in the checkpoint's (Cout, Cin, KH, KW).
    private static Tensor ToConvLayout(IBackend backend, Tensor oihw, Shape shape, DType dtype)
    {
        byte[] ohwi = ConvWeightLayout.OihwToOhwi(oihw.ToBytes(), shape[0], shape[1], shape[2], shape[3], sizeof(float));
        return backend.FromFloats(HostTensors.DecodeFloats(ohwi, DType.F32), new Shape(shape[0], shape[2], shape[3], shape[1]), dtype);
    }
}
