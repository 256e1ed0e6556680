using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>
/// A denoising step's network evaluation recorded once as a graph (<see cref="IGraphCapture"/>) and replayed at every
/// step: scale the latents by the scheduler's input factor, cast to the UNet dtype, stack the guidance groups, run the
/// UNet. What changes per step lives in device tensors written before each replay (the input factor and the timesteps);
/// the latents are read where they are, since the guidance kernel updates them in place. The scheduler update stays
/// outside the graph: its coefficients are kernel arguments, and recorded arguments are fixed.
/// </summary>
internal sealed class CapturedNoisePrediction : IDisposable
{
    private readonly IGraphCapture _capture;
    private readonly Tensor _inputScale, _timesteps;
    private readonly ICapturedWork _graph;
    private Tensor _eps = null!;

    public CapturedNoisePrediction(IBackend b, IGraphCapture capture, UNet2DConditionModel unet, DType dtype, Tensor latents,
        Conditioning conditioning)
    {
        _capture = capture;
        int rows = latents.Shape[0] * conditioning.Groups;
        _inputScale = b.Allocate(new Shape(1), DType.F32);
        _timesteps = b.Allocate(new Shape(rows), DType.F32);
        try
        {
            _graph = capture.Capture(() =>
            {
                using Tensor scaled = b.Mul(latents, _inputScale);
                using Tensor? cast = dtype == scaled.DType ? null : b.Cast(scaled, dtype);
                using Tensor stacked = b.Concat(Enumerable.Repeat(cast ?? scaled, conditioning.Groups).ToArray(), axis: 0);
                _eps = unet.Forward(b, stacked, _timesteps, conditioning.Context, conditioning.Added);
            });
        }
        catch
        {
            _inputScale.Dispose();
            _timesteps.Dispose();
            throw;
        }
    }

    public int NodeCount => _graph.NodeCount;

    /// <summary>The UNet output for the current latents; the tensor belongs to the graph and is rewritten by the next call.</summary>
    public Tensor Predict(float inputScale, float timestep)
    {
        _capture.CopyFromHost(_inputScale, HostTensors.EncodeFloats([inputScale], DType.F32));
        _capture.CopyFromHost(_timesteps, HostTensors.EncodeFloats(Enumerable.Repeat(timestep, _timesteps.Shape[0]).ToArray(), DType.F32));
        _graph.Replay();
        return _eps;
    }

    public void Dispose()
    {
        _graph.Dispose();
        _inputScale.Dispose();
        _timesteps.Dispose();
    }
}
