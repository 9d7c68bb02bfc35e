//! A small slab: values under stable integer keys, freed keys reused (the session table).

pub struct Slots<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// The key the next `insert` will use.
    pub fn vacant_key(&self) -> usize {
        self.free.last().copied().unwrap_or(self.items.len())
    }

    pub fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(k) => {
                self.items[k] = Some(value);
                k
            }
            None => {
                self.items.push(Some(value));
                self.items.len() - 1
            }
        }
    }

    pub fn remove(&mut self, key: usize) -> Option<T> {
        let v = self.items.get_mut(key)?.take()?;
        self.free.push(key);
        self.len -= 1;
        Some(v)
    }

    pub fn get(&self, key: usize) -> Option<&T> {
        self.items.get(key)?.as_ref()
    }

    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.items.get_mut(key)?.as_mut()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_reused() {
        let mut s = Slots::default();
        assert_eq!(s.vacant_key(), 0);
        assert_eq!(s.insert("a"), 0);
        assert_eq!(s.insert("b"), 1);
        assert_eq!(s.remove(0), Some("a"));
        assert_eq!(s.remove(0), None);
        assert_eq!(s.vacant_key(), 0);
        assert_eq!(s.insert("c"), 0);
        assert_eq!(s.get(1), Some(&"b"));
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            vec![(0, "c"), (1, "b")]
        );
    }
}
