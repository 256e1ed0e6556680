namespace Viper.Models.Layers;

/// <summary>
/// A model component that owns parameter tensors and child components, released together by <see cref="Dispose"/>.
/// Subclasses register what they load with <see cref="Own{T}(T)"/> in their constructors.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    protected T Own<T>(T resource)
        where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
        GC.SuppressFinalize(this);
    }
}
